"""The event bus: every node publishes after commit and every node hears every event.

PostgreSQL LISTEN/NOTIFY is the default (no extra infrastructure). Publishing never blocks
the caller: events go to a queue, and one task merges what arrives within a few
milliseconds into one NOTIFY, because NOTIFY takes a global lock at commit."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg
import orjson

from app.realtime.events import Event

log = logging.getLogger(__name__)

CHANNEL = "chatcentre_events"
_MAX_PAYLOAD = 7000  # NOTIFY allows 8000 bytes
Subscriber = Callable[[list[Event]], Awaitable[None]]


class PostgresBus:
    def __init__(self, dsn: str, coalesce_ms: float = 2.0):
        self._dsn = dsn
        self._coalesce = coalesce_ms / 1000
        self._queue: asyncio.Queue[list[Event]] = asyncio.Queue()
        self._subscribers: list[Subscriber] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._deliveries: set[asyncio.Task[None]] = set()
        self._listen_conn: asyncpg.Connection | None = None
        self.connected = asyncio.Event()

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def publish(self, events: list[Event]) -> None:
        """Called from after-commit hooks: must not block."""
        self._queue.put_nowait(events)

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._publisher(), name="bus-publisher"),
            asyncio.create_task(self._listener(), name="bus-listener"),
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
        if self._listen_conn is not None:
            with contextlib.suppress(Exception):
                await self._listen_conn.close()

    async def _publisher(self) -> None:
        conn: asyncpg.Connection | None = None
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
                            if conn is None or conn.is_closed():
                                conn = await asyncpg.connect(self._dsn)
                            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
                            break
                        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                            log.warning("bus publish failed (attempt %d)", attempt + 1)
                            conn = None
                            await asyncio.sleep(0.2 * (attempt + 1))
            finally:
                for _ in range(count):
                    self._queue.task_done()

    async def _listener(self) -> None:
        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
                self._listen_conn = conn
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                self.connected.set()
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("bus listener lost its connection; reconnecting", exc_info=True)
            self.connected.clear()
            await asyncio.sleep(0.5)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        events: list[Event] = orjson.loads(payload)
        for subscriber in self._subscribers:
            task = asyncio.create_task(_safe(subscriber, events))
            self._deliveries.add(task)
            task.add_done_callback(self._deliveries.discard)


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
