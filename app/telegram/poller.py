"""Long polling for bots in polling mode, on exactly one process per bot.

Leadership: a PostgreSQL advisory lock keyed by the bot id, taken with pg_try_advisory_lock
on a dedicated connection that stays open while this process polls. If the process dies,
its connection closes and the lock goes with it; a standby retries and takes over.

No loss, no repeats: getUpdates' offset is Telegram's acknowledgement ("an update is
considered confirmed as soon as getUpdates is called with an offset higher than its
update_id"), and nothing more. The offset that confirms a batch is stored in the channel's
settings (poll_offset) in the SAME transaction as the batch's messages, and only sent to
Telegram after that commit, once, in a short poll; when that poll brings nothing new, the
stored offset is cleared and the long polls that follow carry no offset at all (Telegram
then returns the earliest unconfirmed updates). An offset sent on every poll would confirm,
unseen, any update with a lower id: after a week without updates Telegram picks the next id
at random, so that happens. A crash before the commit means the batch is fetched again (and
stored once: ingest is idempotent by (channel, external id)); a crash after it means the
stored offset is sent by whoever polls next. Offset changes are compare-and-set, so a
process that lost its lock without noticing cannot move the offset back."""

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

import asyncpg
from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.core.context import AppContext
from app.db.engine import asyncpg_dsn
from app.telegram.service import store_update
from connectors.base import PermanentError, TemporaryError
from connectors.telegram import client
from connectors.telegram.connector import TelegramConnector
from connectors.telegram.parse import InvalidUpdate, parse_update

log = logging.getLogger(__name__)

_ADVANCE_OFFSET = text("""
UPDATE channel_accounts
SET settings = jsonb_set(settings, '{poll_offset}', to_jsonb(CAST(:next AS bigint)))
WHERE id = :id AND COALESCE((settings->>'poll_offset')::bigint, -1) = :current
""")

# All stored updates are confirmed: polls carry no offset from now on.
_CONFIRMED = text("""
UPDATE channel_accounts SET settings = settings - 'poll_offset'
WHERE id = :id AND (settings->>'poll_offset')::bigint = :current
""")

_POLLING_CHANNELS = text("""
SELECT id FROM channel_accounts
WHERE type = 'telegram' AND is_active AND settings->>'mode' = 'polling'
""")


class LostLeadership(Exception):
    """Someone else moved the offset: stop polling and compete for the lock again."""


def lock_key(bot_id: int) -> int:
    """A signed 64-bit advisory-lock key for one bot, unlikely to meet other users' keys."""
    digest = hashlib.blake2b(f"chatcentre:telegram-poll:{bot_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _backoff(base: float, failures: int) -> float:
    return float(min(30.0, base * 2 ** max(0, failures - 1)))


class TelegramPoller:
    """Polls one channel's bot while it holds the bot's lock; waits as a standby otherwise."""

    def __init__(self, ctx: AppContext, channel_id: int, name: str | None = None):
        self.ctx = ctx
        self.channel_id = channel_id
        self.name = name or f"telegram-poller-{channel_id}"
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
                    log.info("%s: channel gone, inactive or not polling; stopping", self.name)
                    return
                led = await self._lead(channel)
                failures = 0
                if not led:
                    await asyncio.sleep(config.telegram_poll_lock_retry_seconds)
            except asyncio.CancelledError:
                raise
            except LostLeadership:
                log.warning(
                    "%s: the offset moved under us; competing for the lock again", self.name
                )
            except Exception as exc:
                failures += 1
                # The token is never in these messages (aiogram's texts carry no URLs).
                log.warning("%s: polling stopped (%r); retrying", self.name, exc)
                await asyncio.sleep(_backoff(config.telegram_poll_error_backoff_seconds, failures))

    async def _load(self) -> ChannelAccount | None:
        async with self.ctx.sessions() as session:
            channel = await session.get(ChannelAccount, self.channel_id)
        if (
            channel is None
            or channel.type != TelegramConnector.channel_type
            or not channel.is_active
            or channel.settings.get("mode") != "polling"
        ):
            return None
        return channel

    async def _lead(self, channel: ChannelAccount) -> bool:
        """Takes the bot's lock and polls until stopped or an error; False: not the leader."""
        bot_id = client.bot_id_of(channel.credentials["bot_token"])
        conn: Any = await asyncpg.connect(asyncpg_dsn(self.ctx.database_url))
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(bot_id)):
                return False
            self.is_leader = True
            log.info("%s: leading long polling for bot %s", self.name, bot_id)
            await self._poll(channel, conn)
            return True
        finally:
            self.is_leader = False
            conn.terminate()  # ends the backend at once, and the lock with it

    async def _poll(self, channel: ChannelAccount, lock_conn: Any) -> None:
        config = self.ctx.settings
        offset: int | None = channel.settings.get("poll_offset")
        errors = 0
        api_server = channel.settings.get("api_server")
        async with client.open_bot(channel.credentials["bot_token"], api_server) as bot:
            while not self._stopping:
                await lock_conn.fetchval("SELECT 1")  # the lock lives as long as this does
                # A confirming poll is short: it only has to reach Telegram.
                wait = 0 if offset is not None else config.telegram_poll_timeout_seconds
                try:
                    updates = await client.get_updates(bot, offset, wait)
                except TemporaryError as exc:
                    errors += 1
                    delay = _backoff(config.telegram_poll_error_backoff_seconds, errors)
                    delay = max(delay, exc.retry_after or 0.0)  # a 429 says how long
                    log.warning("%s: getUpdates failed (%s); retry in %.1fs", self.name, exc, delay)
                    await asyncio.sleep(delay)
                    continue
                except PermanentError as exc:
                    raise RuntimeError(f"getUpdates refused: {exc.reason}") from None
                errors = 0
                if updates:
                    offset, callbacks = await self._store(offset, updates)
                    for callback_id in callbacks:
                        # Only stops the spinner on the user's button: not worth a retry.
                        with contextlib.suppress(TemporaryError, PermanentError):
                            await client.answer_callback(bot, callback_id)
                elif offset is not None:
                    await self._confirmed(offset)
                    offset = None

    async def _confirmed(self, offset: int) -> None:
        async with self.ctx.sessions() as session:
            result = await session.execute(_CONFIRMED, {"id": self.channel_id, "current": offset})
            if not isinstance(result, CursorResult) or result.rowcount != 1:
                await session.rollback()
                raise LostLeadership
            await session.commit()

    async def _store(
        self, offset: int | None, updates: list[dict[str, Any]]
    ) -> tuple[int, list[str]]:
        """Stores a batch and the offset that confirms it, in one transaction."""
        next_offset = max(u["update_id"] for u in updates) + 1
        callbacks: list[str] = []
        async with self.ctx.sessions() as session:
            channel = await session.get(ChannelAccount, self.channel_id)
            if channel is None or not channel.is_active:  # deactivated or deleted meanwhile
                raise LostLeadership
            for raw in updates:
                if await self._store_one(session, channel, raw):
                    cb = raw.get("callback_query") or {}
                    if cb.get("id"):
                        callbacks.append(str(cb["id"]))
            result = await session.execute(
                _ADVANCE_OFFSET,
                {
                    "next": next_offset,
                    "id": self.channel_id,
                    "current": -1 if offset is None else offset,
                },
            )
            if not isinstance(result, CursorResult) or result.rowcount != 1:
                await session.rollback()
                raise LostLeadership
            await session.commit()
        return next_offset, callbacks

    async def _store_one(
        self, session: AsyncSession, channel: ChannelAccount, raw: dict[str, Any]
    ) -> bool:
        try:
            parsed = parse_update(raw)
        except InvalidUpdate:
            log.warning("%s: skipping an update without update_id", self.name)
            return False
        try:
            # A savepoint per update: one update our database refuses must not block the
            # bot's queue forever (Telegram would keep handing it back).
            async with session.begin_nested():
                return await store_update(session, channel, parsed)
        except Exception:
            log.exception("%s: update %s could not be stored; skipped", self.name, parsed.update_id)
            return False


class TelegramPollers:
    """Keeps a poller running for every active Telegram channel in polling mode; picks up
    channels added or switched since, every telegram_poll_scan_seconds."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self.pollers: dict[int, tuple[TelegramPoller, asyncio.Task[None]]] = {}
        self._stop = asyncio.Event()

    async def run_forever(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    await self.sync()
                except Exception:
                    log.exception("telegram pollers: scan failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._stop.wait(), self.ctx.settings.telegram_poll_scan_seconds
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
            poller = TelegramPoller(self.ctx, channel_id)
            task = asyncio.create_task(poller.run_forever(), name=poller.name)
            self.pollers[channel_id] = (poller, task)

    def stop(self) -> None:
        self._stop.set()

    async def _stop_all(self) -> None:
        # A poller mid-getUpdates has confirmed nothing yet: cancelling it loses nothing.
        tasks = []
        for poller, task in self.pollers.values():
            poller.stop()
            task.cancel()
            tasks.append(task)
        self.pollers.clear()
        await asyncio.gather(*tasks, return_exceptions=True)
