"""Reading mailboxes, on exactly one process per mailbox.

Leadership (app/channels/leader.py): a PostgreSQL advisory lock keyed by the mailbox
(settings.mailbox_key), held on a connection of its own while this process reads; a standby
takes over when it dies.

No loss, no repeats: the read position (UIDVALIDITY and the last UID) is stored in the
channel's settings in the SAME transaction as the batch's messages, compare-and-set, so a
reader that lost its lock without noticing cannot move it back. A crash before that commit
means the batch is read again and stored once (ingest is idempotent by Message-ID); a new
UIDVALIDITY means the folder is read again from the last check's date, equally harmless.
Nothing in the mailbox changes unless the channel says so (mark_seen, move_to,
delete_after_read), and only after the commit.

Waiting: IMAP IDLE where the server offers it, polling every poll_interval otherwise; at
most email_idle_seconds either way before the mailbox is checked again."""

import logging
from collections.abc import Hashable
from functools import partial
from typing import Any

import orjson
from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments.service import storage_of
from app.channels.leader import ChannelLeader, ChannelLeaders, LostLeadership, store_or_skip
from app.channels.models import ChannelAccount
from app.core.context import AppContext
from app.email import metrics, service
from app.events.dispatch import commit_then_follow_up
from connectors.base import TemporaryError
from connectors.email.connector import CHANNEL_TYPE
from connectors.email.imap import Batch, MailboxReader, MailboxState

log = logging.getLogger(__name__)

_ADVANCE = text("""
UPDATE channel_accounts SET settings = settings || CAST(:state AS jsonb)
WHERE id = :id AND is_active
  AND COALESCE(settings->>'uidvalidity', '') = :uidvalidity
  AND COALESCE((settings->>'last_uid')::bigint, 0) = :last_uid
""")

# The readers to run, with what they were started with: a change restarts one.
_MAILBOXES = text("""
SELECT id, md5((settings - 'uidvalidity' - 'last_uid' - 'checked_on')::text
               || CAST(credentials AS text)) AS version
FROM channel_accounts
WHERE type = :type AND is_active AND deleted_at IS NULL
""")


async def _mailboxes(session: AsyncSession) -> dict[int, Hashable]:
    rows = await session.execute(_MAILBOXES, {"type": CHANNEL_TYPE})
    return {row.id: row.version for row in rows}


class EmailReader(ChannelLeader):
    """Reads one channel's mailbox while it holds the mailbox's lock; a standby otherwise."""

    role = "email-reader"
    max_backoff_seconds = 300.0

    def wants(self, channel: ChannelAccount) -> bool:
        return channel.type == CHANNEL_TYPE and channel.is_active

    def lock_name(self, channel: ChannelAccount) -> str:
        return f"email-read:{channel.settings.get('mailbox_key') or channel.id}"

    @property
    def retry_seconds(self) -> float:
        return self.ctx.settings.email_lock_retry_seconds

    @property
    def error_backoff_seconds(self) -> float:
        return self.ctx.settings.email_error_backoff_seconds

    def failed(self, exc: Exception) -> str:
        metrics.READ_ERRORS.inc()
        # The server's words only: the password is never in them.
        return exc.reason if isinstance(exc, TemporaryError) else repr(exc)

    async def lead(self, channel: ChannelAccount, lock_conn: Any) -> None:
        await self._read(channel, lock_conn)

    async def _read(self, channel: ChannelAccount, lock_conn: Any) -> None:
        config = self.ctx.settings
        state = service.state_of(channel.settings)
        async with MailboxReader(dict(channel.credentials), dict(channel.settings)) as box:
            while not self.stopping:
                await lock_conn.fetchval("SELECT 1")  # the lock lives as long as this does
                batch = await box.fetch_new(state, config.email_batch_size)
                state = await self._store(state, batch)
                await box.mark_processed([m.uid for m in batch.mails])
                if batch.more:
                    continue
                if not box.connected:
                    raise TemporaryError("the IMAP server closed the connection")
                if not await box.wait_for_news(config.email_idle_seconds):
                    await box.reopen()  # a quiet spell: was the folder recreated?

    async def _store(self, current: MailboxState, batch: Batch) -> MailboxState:
        """Stores a batch and the read position after it, in one transaction."""
        if not batch.mails and batch.state == current:
            return current
        storage = storage_of(self.ctx)
        async with self.ctx.sessions() as session:
            channel = await session.get(ChannelAccount, self.channel_id)
            if channel is None or not channel.is_active:
                raise LostLeadership
            for mail in batch.mails:
                # One mail our database refuses must not stop the mailbox (it is skipped, and
                # logged, not retried for ever).
                await store_or_skip(
                    session,
                    partial(service.store_mail, session, channel, mail, storage),
                    f"{self.name}: mail uid {mail.uid}",
                )
            result = await session.execute(
                _ADVANCE,
                {
                    "state": orjson.dumps(batch.state.as_dict()).decode(),
                    "id": self.channel_id,
                    "uidvalidity": "" if current.uidvalidity is None else str(current.uidvalidity),
                    "last_uid": current.last_uid,
                },
            )
            if not isinstance(result, CursorResult) or result.rowcount != 1:
                await session.rollback()
                raise LostLeadership
            await commit_then_follow_up(session, self.ctx)
        return batch.state


def email_readers(ctx: AppContext) -> ChannelLeaders:
    """A reader for every active email channel, restarted when its settings change."""
    return ChannelLeaders(
        ctx, EmailReader, _mailboxes, ctx.settings.email_scan_seconds, "email readers"
    )
