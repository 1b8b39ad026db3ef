"""Overload shedding: above capacity a request gets 503 with Retry-After at once, before any
transaction starts, instead of queueing until its client gives up (and perhaps being stored
after it did). Providers redeliver on a 503 and the widget resends, so shedding loses
nothing; a client over its own rate limit still gets 429 (app/core/ratelimit.py).

Two signals, per process, both about queueing rather than a fixed request rate:
- in-flight depth: HTTP requests between arrival and response (WebSockets not counted);
- pool wait: how long checkouts wait for a database connection, measured in the pool itself
  (MeasuredPool): the oldest checkout still waiting, else the longest one that finished in
  the last second. A saturated database or CPU shows here before clients time out.
Health and metrics are never shed: an orchestrator must see the process alive."""

import json
import time

from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry, QueuePool
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.errors import error_body
from app.core.metrics import SHED

EXEMPT = ("/healthz", "/readyz", "/metrics")
WINDOW_SECONDS = 1.0


class PoolPressure:
    """Checkout waits of one pool."""

    def __init__(self) -> None:
        self._waiting: dict[int, float] = {}
        self._next = 0
        self._recent = 0.0
        self._recent_at = 0.0

    def begin(self) -> int:
        self._next += 1
        self._waiting[self._next] = time.monotonic()
        return self._next

    def end(self, token: int) -> None:
        now = time.monotonic()
        waited = now - self._waiting.pop(token, now)
        if waited >= self._recent or now - self._recent_at > WINDOW_SECONDS:
            self._recent, self._recent_at = waited, now

    def wait_ms(self) -> float:
        now = time.monotonic()
        oldest = now - min(self._waiting.values(), default=now)
        recent = self._recent if now - self._recent_at <= WINDOW_SECONDS else 0.0
        return max(oldest, recent) * 1000


class MeasuredPool(AsyncAdaptedQueuePool):
    """The engine's pool, timing each checkout (a wait for a free connection, or the opening
    of an overflow one)."""

    pressure: PoolPressure

    def _do_get(self) -> ConnectionPoolEntry:
        token = self.pressure.begin()
        try:
            return super()._do_get()
        finally:
            self.pressure.end(token)

    def recreate(self) -> QueuePool:
        # SQLAlchemy recreates the pool after a lost connection: keep the same gauge.
        pool = super().recreate()
        assert isinstance(pool, MeasuredPool)
        pool.pressure = self.pressure
        return pool


class SheddingMiddleware:
    def __init__(self, app: ASGIApp, max_in_flight: int, max_pool_wait_ms: int, retry_after: int):
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_pool_wait_ms = max_pool_wait_ms
        self.retry_after = str(retry_after)
        self.in_flight = 0

    def _overloaded(self, scope: Scope) -> str | None:
        if self.max_in_flight and self.in_flight >= self.max_in_flight:
            return "in_flight"
        if self.max_pool_wait_ms:
            ctx = getattr(scope["app"].state, "ctx", None)
            pressure = getattr(ctx, "pool_pressure", None) if ctx else None
            if pressure is not None and pressure.wait_ms() > self.max_pool_wait_ms:
                return "pool_wait"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        reason = self._overloaded(scope)
        if reason is not None:
            SHED.labels(reason).inc()
            await _overloaded_response(send, self.retry_after)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _overloaded_response(send: Send, retry_after: str) -> None:
    body = json.dumps(
        error_body("overloaded", "The service is busy; retry after the given seconds")
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", retry_after.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
