"""Long polling for bots in polling mode, on exactly one process per bot.

Leadership (app/channels/leader.py): a PostgreSQL advisory lock keyed by the bot id, held
on a connection of its own while this process polls; a standby takes over when it dies.

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
import logging
from collections.abc import Hashable
from functools import partial
from typing import Any

from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.leader import (
    ChannelLeader,
    ChannelLeaders,
    LostLeadership,
    backoff,
    store_or_skip,
)
from app.channels.models import ChannelAccount
from app.core.context import AppContext
from app.events.dispatch import commit_then_follow_up
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


async def _polling_channels(session: AsyncSession) -> dict[int, Hashable]:
    return {channel_id: None for channel_id in await session.scalars(_POLLING_CHANNELS)}


class TelegramPoller(ChannelLeader):
    """Polls one channel's bot while it holds the bot's lock; waits as a standby otherwise."""

    role = "telegram-poller"

    def wants(self, channel: ChannelAccount) -> bool:
        return (
            channel.type == TelegramConnector.channel_type
            and channel.is_active
            and channel.settings.get("mode") == "polling"
        )

    def lock_name(self, channel: ChannelAccount) -> str:
        return f"telegram-poll:{client.bot_id_of(channel.credentials['bot_token'])}"

    @property
    def retry_seconds(self) -> float:
        return self.ctx.settings.telegram_poll_lock_retry_seconds

    @property
    def error_backoff_seconds(self) -> float:
        return self.ctx.settings.telegram_poll_error_backoff_seconds

    async def lead(self, channel: ChannelAccount, lock_conn: Any) -> None:
        await self._poll(channel, lock_conn)

    async def _poll(self, channel: ChannelAccount, lock_conn: Any) -> None:
        config = self.ctx.settings
        offset: int | None = channel.settings.get("poll_offset")
        errors = 0
        api_server = channel.settings.get("api_server")
        async with client.open_bot(channel.credentials["bot_token"], api_server) as bot:
            while not self.stopping:
                await lock_conn.fetchval("SELECT 1")  # the lock lives as long as this does
                # A confirming poll is short: it only has to reach Telegram.
                wait = 0 if offset is not None else config.telegram_poll_timeout_seconds
                try:
                    updates = await client.get_updates(bot, offset, wait)
                except TemporaryError as exc:
                    errors += 1
                    delay = backoff(self.error_backoff_seconds, errors, self.max_backoff_seconds)
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
            await commit_then_follow_up(session, self.ctx)
        return next_offset, callbacks

    async def _store_one(
        self, session: AsyncSession, channel: ChannelAccount, raw: dict[str, Any]
    ) -> bool:
        try:
            parsed = parse_update(raw)
        except InvalidUpdate:
            log.warning("%s: skipping an update without update_id", self.name)
            return False
        # One update our database refuses must not block the bot's queue forever (Telegram
        # would keep handing it back); a deadlock must not lose it either.
        stored = await store_or_skip(
            session,
            partial(store_update, session, channel, parsed),
            f"{self.name}: update {parsed.update_id}",
        )
        return bool(stored)


def telegram_pollers(ctx: AppContext) -> ChannelLeaders:
    """A poller for every active Telegram channel in polling mode."""
    return ChannelLeaders(
        ctx,
        TelegramPoller,
        _polling_channels,
        ctx.settings.telegram_poll_scan_seconds,
        "telegram pollers",
    )
