"""Provider work that must run on exactly one process per channel (Telegram's and VK's long
polls, reading a mailbox), whatever the number of nodes.

Leadership: a PostgreSQL advisory lock keyed by what the provider knows (the bot, the
community, the mailbox), taken with pg_try_advisory_lock on a connection of its own that
stays open while this process leads. A process that dies closes its connection and its lock
goes with it; a standby retries every few seconds and takes over. What a leader stores
moves its position compare-and-set, so one that lost its lock without noticing raises
LostLeadership and competes again instead of moving the position back.

A plugin subclasses ChannelLeader (which channels it wants, the lock's name, the leader's
loop) and runs a ChannelLeaders supervisor as its worker."""

import asyncio
import contextlib
import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.core.context import AppContext
from app.core.errors import database_unavailable, transient_conflict
from app.db.engine import asyncpg_dsn

log = logging.getLogger(__name__)

T = TypeVar("T")


class LostLeadership(Exception):
    """Someone else moved the stored position, or the channel stopped: lead no further."""


def lock_key(name: str) -> int:
    """A signed 64-bit advisory-lock key, unlikely to meet other users' keys."""
    digest = hashlib.blake2b(f"chatcentre:{name}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def backoff(base: float, failures: int, cap: float) -> float:
    return float(min(cap, base * 2 ** max(0, failures - 1)))


async def store_or_skip(
    session: AsyncSession, store: Callable[[], Awaitable[T]], what: str
) -> T | None:
    """Stores one item of a polled batch in a savepoint of its own. An item our database
    refuses is skipped and logged (None), so it cannot block the provider's queue forever.
    A failure that is not the item's fault (a deadlock, a serialization conflict, the
    database away) is raised instead: the batch's transaction ends without moving the
    position, and the leader fetches the batch again after its backoff, so nothing is lost."""
    try:
        async with session.begin_nested():
            return await store()
    except Exception as exc:
        if transient_conflict(exc) or database_unavailable(exc):
            raise
        log.exception("%s could not be stored; skipped", what)
        return None


class ChannelLeader(ABC):
    """Leads one channel's provider work while it holds the lock; a standby otherwise."""

    role: str  # "telegram-poller": names tasks and logs
    max_backoff_seconds = 30.0

    def __init__(self, ctx: AppContext, channel_id: int, name: str | None = None):
        self.ctx = ctx
        self.channel_id = channel_id
        self.name = name or f"{self.role}-{channel_id}"
        self.is_leader = False
        self._stopping = False

    # ------------------------------------------------------------ what a plugin says

    @abstractmethod
    def wants(self, channel: ChannelAccount) -> bool:
        """Whether this channel (type, active, mode) still needs a leader."""

    @abstractmethod
    def lock_name(self, channel: ChannelAccount) -> str:
        """What the lock is named after: what the provider identifies (a bot, a mailbox)."""

    @abstractmethod
    async def lead(self, channel: ChannelAccount, lock_conn: Any) -> None:
        """The leader's loop: until self.stopping, calling `await lock_conn.fetchval('SELECT
        1')` between rounds (the lock lives as long as that connection does)."""

    @property
    @abstractmethod
    def retry_seconds(self) -> float:
        """How often a standby tries to take the lock."""

    @property
    @abstractmethod
    def error_backoff_seconds(self) -> float:
        """The first wait after a failure (doubling up to max_backoff_seconds)."""

    def failed(self, exc: Exception) -> str:
        """What to log of a failure (never a credential)."""
        return repr(exc)

    # ------------------------------------------------------------ the loop

    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        self._stopping = True

    async def run_forever(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                channel = await self._load()
                if channel is None:
                    log.info("%s: channel gone, inactive or switched; stopping", self.name)
                    return
                if not await self._lead(channel):
                    await asyncio.sleep(self.retry_seconds)
                failures = 0
            except asyncio.CancelledError:
                raise
            except LostLeadership:
                log.warning("%s: the position moved under us; competing again", self.name)
            except Exception as exc:
                failures += 1
                log.warning("%s: stopped (%s); retrying", self.name, self.failed(exc))
                await asyncio.sleep(
                    backoff(self.error_backoff_seconds, failures, self.max_backoff_seconds)
                )

    async def _load(self) -> ChannelAccount | None:
        async with self.ctx.sessions() as session:
            channel = await session.get(ChannelAccount, self.channel_id)
        return channel if channel is not None and self.wants(channel) else None

    async def _lead(self, channel: ChannelAccount) -> bool:
        """Takes the lock and leads until stopped or an error; False: not the leader."""
        conn: Any = await asyncpg.connect(asyncpg_dsn(self.ctx.database_url))
        try:
            key = lock_key(self.lock_name(channel))
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                return False
            self.is_leader = True
            log.info("%s: leading", self.name)
            await self.lead(channel, conn)
            return True
        finally:
            self.is_leader = False
            conn.terminate()  # ends the backend at once, and the lock with it


# The channels that need a leader, each with a version: a changed version restarts its leader.
WantedChannels = Callable[[AsyncSession], Awaitable[dict[int, Hashable]]]


class ChannelLeaders:
    """Keeps a leader (or standby) running for every channel `wanted` names; picks up
    channels added, changed or switched since, every `scan_seconds`."""

    def __init__(
        self,
        ctx: AppContext,
        make: Callable[[AppContext, int], ChannelLeader],
        wanted: WantedChannels,
        scan_seconds: float,
        label: str,
    ):
        self.ctx = ctx
        self.make = make
        self.wanted = wanted
        self.scan_seconds = scan_seconds
        self.label = label
        self.leaders: dict[int, tuple[Hashable, ChannelLeader, asyncio.Task[None]]] = {}
        self._stop = asyncio.Event()

    async def run_forever(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    await self.sync()
                except Exception:
                    log.exception("%s: scan failed; retrying", self.label)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.scan_seconds)
        finally:
            await self._stop_all()

    async def sync(self) -> None:
        async with self.ctx.sessions() as session:
            wanted = await self.wanted(session)
        for channel_id, (version, leader, task) in list(self.leaders.items()):
            if channel_id not in wanted or wanted[channel_id] != version or task.done():
                leader.stop()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task  # its lock goes before a successor competes
                del self.leaders[channel_id]
        for channel_id in set(wanted) - set(self.leaders):
            leader = self.make(self.ctx, channel_id)
            task = asyncio.create_task(leader.run_forever(), name=leader.name)
            self.leaders[channel_id] = (wanted[channel_id], leader, task)

    def stop(self) -> None:
        self._stop.set()

    async def _stop_all(self) -> None:
        # A leader mid-request has stored nothing of it yet: cancelling it loses nothing.
        tasks = []
        for _, leader, task in self.leaders.values():
            leader.stop()
            task.cancel()
            tasks.append(task)
        self.leaders.clear()
        await asyncio.gather(*tasks, return_exceptions=True)
