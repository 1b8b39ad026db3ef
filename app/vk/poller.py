"""Bots Long Poll for communities in longpoll mode, on exactly one process per community.

Leadership as for Telegram polling (app/telegram/poller.py): a PostgreSQL advisory lock
keyed by the community id, held on a dedicated connection while this process polls; if
the process dies its connection closes and a standby takes over.

No loss, no repeats: VK keeps no acknowledgement; `ts` (the number of the last event seen)
is ours to keep. It is stored in the channel's settings (lp_ts) in the SAME transaction as
the events it covers, compare-and-set, so a process that lost its lock without noticing
cannot move it back. A crash before the commit means the events are fetched again from
the stored ts (and stored once: ingest is idempotent by (channel, external id)).
VK's `failed` answers (connectors/vk/longpoll.py): 1 and 3 may have lost events (logged and
counted), 2 only renews the key."""

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

import asyncpg
from sqlalchemy import CursorResult, text

from app.channels.models import ChannelAccount
from app.core.context import AppContext
from app.db.engine import asyncpg_dsn
from app.vk import service
from app.vk.metrics import VK_LONG_POLL_FAILED
from connectors.base import PermanentError, TemporaryError
from connectors.vk.client import LongPollServer
from connectors.vk.longpoll import PollResult, poll_once

log = logging.getLogger(__name__)

_ADVANCE_TS = text("""
UPDATE channel_accounts SET settings = jsonb_set(settings, '{lp_ts}', to_jsonb(CAST(:next AS text)))
WHERE id = :id AND is_active AND COALESCE(settings->>'lp_ts', '') = :current
""")

_POLLING_CHANNELS = text("""
SELECT id FROM channel_accounts
WHERE type = 'vk' AND is_active AND settings->>'mode' = 'longpoll'
""")


class LostLeadership(Exception):
    """Someone else moved ts, or the channel stopped: compete for the lock again."""


def lock_key(group_id: int) -> int:
    """A signed 64-bit advisory-lock key for one community."""
    digest = hashlib.blake2b(f"chatcentre:vk-poll:{group_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _backoff(base: float, failures: int) -> float:
    return float(min(30.0, base * 2 ** max(0, failures - 1)))


class VkPoller:
    """Polls one channel's community while it holds its lock; waits as a standby otherwise."""

    def __init__(self, ctx: AppContext, channel_id: int, name: str | None = None):
        self.ctx = ctx
        self.channel_id = channel_id
        self.name = name or f"vk-poller-{channel_id}"
        self.is_leader = False
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True

    async def run_forever(self) -> None:
        config = self.ctx.settings
        failures = 0
        while not self._stopping:
            try:
                channel = await self._load()
                if channel is None:
                    log.info("%s: channel gone, inactive or not longpoll; stopping", self.name)
                    return
                led = await self._lead(channel)
                failures = 0
                if not led:
                    await asyncio.sleep(config.vk_poll_lock_retry_seconds)
            except asyncio.CancelledError:
                raise
            except LostLeadership:
                log.warning("%s: ts moved under us; competing for the lock again", self.name)
            except Exception as exc:
                failures += 1
                # The token is never in these messages (it travels in request bodies only).
                log.warning("%s: polling stopped (%r); retrying", self.name, exc)
                await asyncio.sleep(_backoff(config.vk_poll_error_backoff_seconds, failures))

    async def _load(self) -> ChannelAccount | None:
        async with self.ctx.sessions() as session:
            channel = await session.get(ChannelAccount, self.channel_id)
        if (
            channel is None
            or channel.type != service.TYPE
            or not channel.is_active
            or channel.settings.get("mode") != "longpoll"
        ):
            return None
        return channel

    async def _lead(self, channel: ChannelAccount) -> bool:
        """Takes the community's lock and polls until stopped or an error; False: not the
        leader."""
        group_id = int(channel.settings["group_id"])
        conn: Any = await asyncpg.connect(asyncpg_dsn(self.ctx.database_url))
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(group_id)):
                return False
            self.is_leader = True
            log.info("%s: leading Bots Long Poll for community %s", self.name, group_id)
            await self._poll(channel, conn)
            return True
        finally:
            self.is_leader = False
            conn.terminate()  # ends the backend at once, and the lock with it

    async def _poll(self, channel: ChannelAccount, lock_conn: Any) -> None:
        config = self.ctx.settings
        api = service.api_of(channel)
        token = channel.credentials["access_token"]
        group_id = int(channel.settings["group_id"])
        stored_ts: str | None = channel.settings.get("lp_ts")
        session: LongPollServer | None = None
        errors = 0
        while not self._stopping:
            await lock_conn.fetchval("SELECT 1")  # the lock lives as long as this does
            try:
                result = await poll_once(
                    api, token, group_id, session, stored_ts, config.vk_poll_wait_seconds
                )
            except TemporaryError as exc:
                errors += 1
                delay = _backoff(config.vk_poll_error_backoff_seconds, errors)
                delay = max(delay, exc.retry_after or 0.0)
                log.warning("%s: Long Poll failed (%s); retry in %.1fs", self.name, exc, delay)
                await asyncio.sleep(delay)
                continue
            except PermanentError as exc:
                # e.g. Long Poll switched off in the community: the supervisor retries later.
                raise RuntimeError(f"Long Poll refused: {exc.reason}") from None
            errors = 0
            session = result.session
            self._count(result)
            if result.session.ts != stored_ts:
                await self._store(stored_ts, result)
                stored_ts = result.session.ts

    def _count(self, result: PollResult) -> None:
        if result.failed is not None:
            VK_LONG_POLL_FAILED.labels(str(result.failed)).inc()
        if result.gap:
            log.warning(
                "%s: VK says events may be lost (failed %s); going on from ts %s",
                self.name,
                result.failed,
                result.session.ts,
            )

    async def _store(self, current: str | None, result: PollResult) -> None:
        """Stores a step's events and the ts after them, in one transaction."""
        async with self.ctx.sessions() as session:
            channel = await session.get(ChannelAccount, self.channel_id)
            if channel is None or not channel.is_active:  # deactivated or deleted meanwhile
                raise LostLeadership
            for event in result.events:
                try:
                    # A savepoint per event: one event our database refuses must not stop
                    # the community's queue forever.
                    async with session.begin_nested():
                        await service.store_events(session, channel, [event], "longpoll")
                except Exception:
                    log.exception("%s: an event could not be stored; skipped", self.name)
            moved = await session.execute(
                _ADVANCE_TS,
                {"next": result.session.ts, "id": self.channel_id, "current": current or ""},
            )
            if not isinstance(moved, CursorResult) or moved.rowcount != 1:
                await session.rollback()
                raise LostLeadership
            await session.commit()


class VkPollers:
    """Keeps a poller running for every active VK channel in longpoll mode; picks up
    channels added or switched since, every vk_poll_scan_seconds."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self.pollers: dict[int, tuple[VkPoller, asyncio.Task[None]]] = {}
        self._stop = asyncio.Event()

    async def run_forever(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    await self.sync()
                except Exception:
                    log.exception("vk pollers: scan failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stop.wait(), self.ctx.settings.vk_poll_scan_seconds
                    )
        finally:
            await self._stop_all()

    async def sync(self) -> None:
        async with self.ctx.sessions() as session:
            wanted = set((await session.scalars(_POLLING_CHANNELS)).all())
        for channel_id, (poller, task) in list(self.pollers.items()):
            if channel_id not in wanted or task.done():
                poller.stop()
                task.cancel()
                del self.pollers[channel_id]
        for channel_id in wanted - set(self.pollers):
            poller = VkPoller(self.ctx, channel_id)
            task = asyncio.create_task(poller.run_forever(), name=poller.name)
            self.pollers[channel_id] = (poller, task)

    def stop(self) -> None:
        self._stop.set()

    async def _stop_all(self) -> None:
        # A poller mid-request has stored nothing of it yet: cancelling it loses nothing.
        tasks = []
        for poller, task in self.pollers.values():
            poller.stop()
            task.cancel()
            tasks.append(task)
        self.pollers.clear()
        await asyncio.gather(*tasks, return_exceptions=True)
