"""Bots Long Poll for communities in longpoll mode, on exactly one process per community.

Leadership (app/channels/leader.py): a PostgreSQL advisory lock keyed by the community id,
held on a connection of its own while this process polls; a standby takes over when it dies.

No loss, no repeats: VK keeps no acknowledgement; `ts` (the number of the last event seen)
is ours to keep. It is stored in the channel's settings (lp_ts) in the SAME transaction as
the events it covers, compare-and-set, so a process that lost its lock without noticing
cannot move it back. A crash before the commit means the events are fetched again from
the stored ts (and stored once: ingest is idempotent by (channel, external id)).
VK's `failed` answers (connectors/vk/longpoll.py): 1 and 3 may have lost events (logged and
counted), 2 only renews the key."""

import asyncio
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


async def _polling_channels(session: AsyncSession) -> dict[int, Hashable]:
    return {channel_id: None for channel_id in await session.scalars(_POLLING_CHANNELS)}


class VkPoller(ChannelLeader):
    """Polls one channel's community while it holds its lock; waits as a standby otherwise."""

    role = "vk-poller"

    def wants(self, channel: ChannelAccount) -> bool:
        return (
            channel.type == service.TYPE
            and channel.is_active
            and channel.settings.get("mode") == "longpoll"
        )

    def lock_name(self, channel: ChannelAccount) -> str:
        return f"vk-poll:{int(channel.settings['group_id'])}"

    @property
    def retry_seconds(self) -> float:
        return self.ctx.settings.vk_poll_lock_retry_seconds

    @property
    def error_backoff_seconds(self) -> float:
        return self.ctx.settings.vk_poll_error_backoff_seconds

    async def lead(self, channel: ChannelAccount, lock_conn: Any) -> None:
        await self._poll(channel, lock_conn)

    async def _poll(self, channel: ChannelAccount, lock_conn: Any) -> None:
        config = self.ctx.settings
        api = service.api_of(channel)
        token = channel.credentials["access_token"]
        group_id = int(channel.settings["group_id"])
        stored_ts: str | None = channel.settings.get("lp_ts")
        session: LongPollServer | None = None
        errors = 0
        while not self.stopping:
            await lock_conn.fetchval("SELECT 1")  # the lock lives as long as this does
            try:
                result = await poll_once(
                    api, token, group_id, session, stored_ts, config.vk_poll_wait_seconds
                )
            except TemporaryError as exc:
                errors += 1
                delay = backoff(self.error_backoff_seconds, errors, self.max_backoff_seconds)
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
                # One event our database refuses must not stop the community's queue forever.
                await store_or_skip(
                    session,
                    partial(service.store_events, session, channel, [event], "longpoll"),
                    f"{self.name}: an event",
                )
            moved = await session.execute(
                _ADVANCE_TS,
                {"next": result.session.ts, "id": self.channel_id, "current": current or ""},
            )
            if not isinstance(moved, CursorResult) or moved.rowcount != 1:
                await session.rollback()
                raise LostLeadership
            await commit_then_follow_up(session, self.ctx)


def vk_pollers(ctx: AppContext) -> ChannelLeaders:
    """A poller for every active VK channel in longpoll mode."""
    return ChannelLeaders(
        ctx, VkPoller, _polling_channels, ctx.settings.vk_poll_scan_seconds, "vk pollers"
    )
