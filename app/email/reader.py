"""Reading mailboxes, on exactly one process per mailbox.

Leadership, as Telegram's pollers have it (app/telegram/poller.py): a PostgreSQL advisory
lock keyed by the mailbox (settings.mailbox_key), taken with pg_try_advisory_lock on a
connection of its own that stays open while this process reads. A process that dies takes
its lock along; a standby retries and takes over.

No loss, no repeats: the read position (UIDVALIDITY and the last UID) is stored in the
channel's settings in the SAME transaction as the batch's messages, compare-and-set, so a
reader that lost its lock without noticing cannot move it back. A crash before that commit
means the batch is read again and stored once (ingest is idempotent by Message-ID); a new
UIDVALIDITY means the folder is read again from the last check's date, equally harmless.
Nothing in the mailbox changes unless the channel says so (mark_seen, move_to,
delete_after_read), and only after the commit.

Waiting: IMAP IDLE where the server offers it, polling every poll_interval otherwise; at
most email_idle_seconds either way before the mailbox is checked again."""

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

import asyncpg
import orjson
from sqlalchemy import CursorResult, text

from app.attachments.service import storage_of
from app.channels.models import ChannelAccount
from app.core.context import AppContext
from app.db.engine import asyncpg_dsn
from app.email import metrics, service
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


class LostLeadership(Exception):
    """Someone else moved the read position, or the channel stopped: read no further."""


def lock_key(mailbox: str) -> int:
    """A signed 64-bit advisory-lock key for one mailbox."""
    digest = hashlib.blake2b(f"chatcentre:email-read:{mailbox}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _backoff(base: float, failures: int) -> float:
    return float(min(300.0, base * 2 ** max(0, failures - 1)))


class EmailReader:
    """Reads one channel's mailbox while it holds the mailbox's lock; a standby otherwise."""

    def __init__(self, ctx: AppContext, channel_id: int, name: str | None = None):
        self.ctx = ctx
        self.channel_id = channel_id
        self.name = name or f"email-reader-{channel_id}"
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
                    log.info("%s: channel gone or inactive; stopping", self.name)
                    return
                if not await self._lead(channel):
                    await asyncio.sleep(config.email_lock_retry_seconds)
                failures = 0
            except asyncio.CancelledError:
                raise
            except LostLeadership:
                log.warning("%s: the read position moved under us; competing again", self.name)
            except Exception as exc:
                failures += 1
                metrics.READ_ERRORS.inc()
                # The server's words only: the password is never in them.
                reason = exc.reason if isinstance(exc, TemporaryError) else repr(exc)
                log.warning("%s: reading stopped (%s); retrying", self.name, reason)
                await asyncio.sleep(_backoff(config.email_error_backoff_seconds, failures))

    async def _load(self) -> ChannelAccount | None:
        async with self.ctx.sessions() as session:
            channel = await session.get(ChannelAccount, self.channel_id)
        if channel is None or channel.type != CHANNEL_TYPE or not channel.is_active:
            return None
        return channel

    async def _lead(self, channel: ChannelAccount) -> bool:
        """Takes the mailbox's lock and reads until stopped or an error; False: not the leader."""
        key = lock_key(str(channel.settings.get("mailbox_key") or channel.id))
        conn: Any = await asyncpg.connect(asyncpg_dsn(self.ctx.database_url))
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                return False
            self.is_leader = True
            log.info("%s: reading the mailbox", self.name)
            await self._read(channel, conn)
            return True
        finally:
            self.is_leader = False
            conn.terminate()  # ends the backend at once, and the lock with it

    async def _read(self, channel: ChannelAccount, lock_conn: Any) -> None:
        config = self.ctx.settings
        state = service.state_of(channel.settings)
        async with MailboxReader(dict(channel.credentials), dict(channel.settings)) as box:
            while not self._stopping:
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
                try:
                    # A savepoint per mail: one our database refuses must not stop the
                    # mailbox (it is skipped, and logged, not retried for ever).
                    async with session.begin_nested():
                        await service.store_mail(session, channel, mail, storage)
                except Exception:
                    log.exception("%s: mail uid %s could not be stored", self.name, mail.uid)
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
            await session.commit()
        return batch.state


class EmailReaders:
    """Keeps a reader for every active email channel; picks up channels added or changed
    since, every email_scan_seconds."""

    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self.readers: dict[int, tuple[str, EmailReader, asyncio.Task[None]]] = {}
        self._stop = asyncio.Event()

    async def run_forever(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    await self.sync()
                except Exception:
                    log.exception("email readers: scan failed; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.ctx.settings.email_scan_seconds)
        finally:
            await self._stop_all()

    async def sync(self) -> None:
        async with self.ctx.sessions() as session:
            wanted = {
                row.id: row.version
                for row in (await session.execute(_MAILBOXES, {"type": CHANNEL_TYPE})).all()
            }
        for channel_id, (version, reader, task) in list(self.readers.items()):
            if wanted.get(channel_id) != version or task.done():
                reader.stop()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task  # its lock goes before a successor competes
                del self.readers[channel_id]
        for channel_id in set(wanted) - set(self.readers):
            reader = EmailReader(self.ctx, channel_id)
            task = asyncio.create_task(reader.run_forever(), name=reader.name)
            self.readers[channel_id] = (wanted[channel_id], reader, task)

    def stop(self) -> None:
        self._stop.set()

    async def _stop_all(self) -> None:
        # A reader mid-batch has moved nothing yet: cancelling it loses nothing.
        tasks = []
        for _, reader, task in self.readers.values():
            reader.stop()
            task.cancel()
            tasks.append(task)
        self.readers.clear()
        await asyncio.gather(*tasks, return_exceptions=True)
