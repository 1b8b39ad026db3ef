"""The event bus: every node publishes after commit and every node hears every event.

Two backends with one behaviour: PostgreSQL LISTEN/NOTIFY (the default: no extra
infrastructure) and Redis pub/sub (for many nodes, when NOTIFY's global commit lock becomes
the bottleneck). Publishing never blocks the caller: events go to a queue, and one task
merges what arrives within a few milliseconds into one message. Payloads carry ids only.

A bus can lose messages (a node restarting, a dropped connection): consoles catch up from
the database by cursor, so the bus is only ever a wake-up, never the record."""

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

import asyncpg
import orjson
import redis.asyncio as redis_asyncio

from app.core.session import Event

log = logging.getLogger(__name__)

CHANNEL = "chatcentre_events"
_MAX_PAYLOAD = 7000  # NOTIFY allows 8000 bytes; Redis has no such limit, but one size is simpler
Subscriber = Callable[[list[Event]], Awaitable[None]]


class EventBus(ABC):
    def __init__(self, coalesce_ms: float = 2.0):
        self._coalesce = coalesce_ms / 1000
        self._queue: asyncio.Queue[list[Event]] = asyncio.Queue()
        self._subscribers: list[Subscriber] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._deliveries: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def publish(self, events: list[Event]) -> None:
        """Called from after-commit hooks: must not block."""
        self._queue.put_nowait(events)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._publisher(), name="bus-publisher"),
            asyncio.create_task(self._listen_forever(), name="bus-listener"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), timeout=10)

    async def stop(self) -> None:
        # Flush what is queued before leaving.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout=2)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._close()

    @abstractmethod
    async def _send(self, payload: str) -> None:
        """Publish one payload; raise on failure (the publisher retries)."""

    @abstractmethod
    async def _listen(self) -> None:
        """Connect, set self.connected, deliver with self._deliver, return when lost."""

    async def _close(self) -> None:
        return None

    async def _publisher(self) -> None:
        while True:
            batch = await self._queue.get()
            count = 1
            if self._coalesce > 0:
                await asyncio.sleep(self._coalesce)
            while not self._queue.empty():
                batch.extend(self._queue.get_nowait())
                count += 1
            try:
                for payload in _chunks(batch):
                    for attempt in range(3):
                        try:
                            await self._send(payload)
                            break
                        except Exception as exc:
                            # Any error at all (a connection cut mid-statement can surface
                            # as asyncpg's InternalClientError): this task must outlive it,
                            # or the node never publishes again.
                            log.warning(
                                "bus publish failed (attempt %d): %s",
                                attempt + 1,
                                type(exc).__name__,
                            )
                            await asyncio.sleep(0.2 * (attempt + 1))
            finally:
                for _ in range(count):
                    self._queue.task_done()

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("bus listener lost its connection; reconnecting", exc_info=True)
            self.connected.clear()
            await asyncio.sleep(0.5)

    def _deliver(self, payload: str | bytes) -> None:
        events: list[Event] = orjson.loads(payload)
        for subscriber in self._subscribers:
            task = asyncio.create_task(_safe(subscriber, events))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)


class PostgresBus(EventBus):
    def __init__(self, dsn: str, coalesce_ms: float = 2.0):
        super().__init__(coalesce_ms)
        self._dsn = dsn
        self._send_conn: asyncpg.Connection | None = None
        self._listen_conn: asyncpg.Connection | None = None

    async def _send(self, payload: str) -> None:
        if self._send_conn is None or self._send_conn.is_closed():
            self._send_conn = await asyncpg.connect(self._dsn)
        try:
            await self._send_conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
        except Exception:
            conn, self._send_conn = self._send_conn, None
            conn.terminate()  # whatever state it is in, the next send opens a new one
            raise

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        self._listen_conn = conn
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        await conn.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: self._deliver(payload))
        self.connected.set()
        await lost.wait()

    async def _close(self) -> None:
        for conn in (self._send_conn, self._listen_conn):
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()


class RedisBus(EventBus):
    def __init__(self, url: str, coalesce_ms: float = 2.0):
        super().__init__(coalesce_ms)
        self._redis = redis_asyncio.Redis.from_url(url)

    async def _send(self, payload: str) -> None:
        await self._redis.publish(CHANNEL, payload)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(CHANNEL)
            self.connected.set()
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    self._deliver(message["data"])
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self._redis.aclose()


async def _safe(subscriber: Subscriber, events: list[Event]) -> None:
    try:
        await subscriber(events)
    except Exception:
        log.exception("event subscriber failed")


def _chunks(events: list[Event]) -> list[str]:
    out: list[str] = []
    current: list[Event] = []
    size = 2
    for ev in events:
        encoded = len(orjson.dumps(ev)) + 1
        if current and size + encoded > _MAX_PAYLOAD:
            out.append(orjson.dumps(current).decode())
            current, size = [], 2
        current.append(ev)
        size += encoded
    if current:
        out.append(orjson.dumps(current).decode())
    return out
