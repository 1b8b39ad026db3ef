"""Outbox dispatcher: claims due rows, sends them through the channel's connector, records
the outcome. A claim is a short transaction that stamps the rows with a lease
(claimed_until), so no other dispatcher takes them; each send is recorded in a transaction
of its own once the provider answers, and a dispatcher that dies leaves its rows to come
back when the lease runs out (run_once says what that can resend). Only the process that
holds a channel's send lease (leases.py) claims that channel's rows.

Per-conversation order: only the oldest waiting row of a conversation can be claimed.

A provider's "429, retry after N seconds" is about the sender (a Telegram bot hitting its
flood limit), not the one message: the channel account is put on hold for N seconds, and
this process (the only one sending for that account, see leases.py) sends nothing for it
until the hold ends; the refused message itself is retried after at least N seconds."""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments.service import is_upload, storage_of
from app.attachments.storage import StoredFileMissing
from app.channels.models import ChannelAccount
from app.contacts.models import ContactIdentity
from app.core.context import AppContext
from app.core.errors import database_unavailable
from app.core.metrics import SEND_FAILURES, SENT
from app.core.session import Event
from app.db.engine import asyncpg_dsn
from app.delivery import pending_statuses
from app.delivery.backoff import retry_delay
from app.delivery.leases import SendLeases
from app.delivery.models import OutboxItem
from app.events.dispatch import raise_event
from app.events.types import MessageDeliveryFailed, MessageUpdated
from app.inbox.models import Conversation, DeliveryState, Message
from connectors.base import (
    Connector,
    OutboundFile,
    OutboundMessage,
    PermanentError,
    SendResult,
    TemporaryError,
)
from connectors.registry import get_connector

log = logging.getLogger(__name__)

_DUE_CHANNELS = text("""
SELECT DISTINCT channel_account_id FROM outbox
WHERE due_at <= now() AND (claimed_until IS NULL OR claimed_until < now())
""")

# A send is recorded in one statement: the hot path of the dispatcher (one round trip, not
# two, between the provider's answer and the commit that makes a resend impossible). It
# hands back the provider's status callbacks that came before it (app/delivery/
# pending_statuses.py).
_RECORD_SENT = text("""
WITH done AS (DELETE FROM outbox WHERE message_id = :id),
recorded AS (
    UPDATE messages SET delivery_state = 'sent', provider_message_id = :provider_id,
                        sent_at = :now
    WHERE id = :id AND delivery_state = 'queued'
    RETURNING channel_account_id)
DELETE FROM pending_statuses p USING recorded r
WHERE p.channel_account_id = r.channel_account_id AND p.provider_message_id = :provider_id
RETURNING p.state, p.at, p.error_code, p.error_title
""")

_CLAIM = text("""
UPDATE outbox SET claimed_until = now() + make_interval(secs => :lease)
WHERE message_id IN (
    SELECT o.message_id FROM outbox o
    WHERE o.due_at <= now() AND (o.claimed_until IS NULL OR o.claimed_until < now())
      AND o.channel_account_id = ANY(CAST(:channels AS bigint[]))
      AND NOT EXISTS (SELECT 1 FROM outbox older
                      WHERE older.conversation_id = o.conversation_id
                        AND older.message_id < o.message_id)
    ORDER BY o.due_at, o.message_id
    LIMIT :limit
    FOR UPDATE OF o SKIP LOCKED)
RETURNING message_id, attempts
""")


class _Throttled(Exception):
    """The provider's rate limit is used up: try again later, not counted as an attempt."""

    def __init__(self, wait: float):
        super().__init__(f"throttled for {wait:.2f}s")
        self.wait = wait


@dataclass(slots=True)
class _Job:
    message: Message
    attempts: int
    channel: ChannelAccount
    recipient: ContactIdentity


def leases_of(ctx: AppContext) -> SendLeases:
    """One set of send leases per process (per app context), shared by its dispatchers."""
    return ctx.shared(SendLeases, lambda: SendLeases(asyncpg_dsn(ctx.database_url)))


class ProviderHolds:
    """Channel accounts the provider asked us to leave alone for a while (429 retry_after).
    Per process, like the provider limits: the send lease makes this process the only one
    sending for the account. A process that takes the lease over learns of a hold still
    running from the provider's next 429."""

    def __init__(self) -> None:
        self._until: dict[int, float] = {}  # channel account id -> time.monotonic() deadline

    def hold(self, channel_id: int, seconds: float) -> None:
        until = time.monotonic() + seconds
        self._until[channel_id] = max(until, self._until.get(channel_id, 0.0))

    def remaining(self, channel_id: int) -> float:
        until = self._until.get(channel_id)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            del self._until[channel_id]
            return 0.0
        return left

    def held(self, channel_ids: set[int]) -> set[int]:
        return {c for c in channel_ids if self.remaining(c) > 0}


def holds_of(ctx: AppContext) -> ProviderHolds:
    """One set of holds per process (per app context), shared by its dispatchers."""
    return ctx.shared(ProviderHolds, ProviderHolds)


class Dispatcher:
    def __init__(self, ctx: AppContext, name: str = "dispatcher"):
        self.ctx = ctx
        self.name = name
        self.leases = leases_of(ctx)
        self.holds = holds_of(ctx)
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def on_events(self, events: list[Event]) -> None:
        if any(e.get("type") == "outbox.queued" for e in events):
            self._wake.set()

    async def run_forever(self) -> None:
        poll = self.ctx.settings.dispatcher_idle_poll_seconds
        while not self._stopping:
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if database_unavailable(exc):  # its rows stay queued; nothing was sent twice
                    log.warning("%s: database unavailable; retrying shortly", self.name)
                else:
                    log.exception("%s: batch failed; retrying shortly", self.name)
                sent = 0
                await asyncio.sleep(poll)
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=poll)
                self._wake.clear()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run_once(self) -> int:
        """Claim one batch, send it, record each outcome. Returns how many rows it handled.

        The claim is a short transaction that stamps the rows with a lease (claimed_until),
        so no other dispatcher takes them; each send is then recorded in a transaction of its
        own right after the provider answers. A dispatcher killed mid-batch can only resend
        what the provider accepted in the instant before that message's record committed;
        its other rows come back when the lease runs out."""
        settings = self.ctx.settings
        async with self.ctx.sessions() as session:
            due = list((await session.execute(_DUE_CHANNELS)).scalars())
            channels = await self.leases.acquire(due) if due else set()
            channels -= self.holds.held(channels)
            if not channels:
                await session.rollback()
                return 0
            claimed = (
                await session.execute(
                    _CLAIM,
                    {
                        "limit": settings.dispatcher_batch_size,
                        "channels": sorted(channels),
                        "lease": settings.dispatcher_lease_seconds,
                    },
                )
            ).all()
            await session.commit()
            if not claimed:
                return 0
            jobs = await self._load(session, dict(claimed))
        # Bounded, so every finished send finds a database connection for its record at once
        # (a record waiting for the pool would widen the crash window).
        in_flight = asyncio.Semaphore(settings.dispatcher_sends_in_flight)
        await asyncio.gather(*(self._send_and_record(job, in_flight) for job in jobs))
        return len(jobs)

    async def _send_and_record(self, job: _Job, in_flight: asyncio.Semaphore) -> None:
        async with in_flight:
            result = await self._send(job)
            async with self.ctx.sessions() as session:
                await self._record(session, job, result)
                await session.commit()

    async def _load(self, session: AsyncSession, attempts: dict[int, int]) -> list[_Job]:
        rows = (
            await session.execute(
                select(Message, ChannelAccount, ContactIdentity)
                .join(ChannelAccount, ChannelAccount.id == Message.channel_account_id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .join(ContactIdentity, ContactIdentity.id == Conversation.identity_id)
                .where(Message.id.in_(list(attempts)))
            )
        ).all()
        return [_Job(m, attempts[m.id], ch, ident) for m, ch, ident in rows]

    async def _throttle(self, job: _Job, connector: Connector) -> float:
        settings = job.channel.settings
        per_account = settings.get("rate_per_account", getattr(connector, "rate_per_account", None))
        per_chat = settings.get("rate_per_chat", getattr(connector, "rate_per_chat", None))
        limits: list[tuple[str, tuple[str, ...]]] = []
        if per_account:
            limits.append((per_account, ("send-account", str(job.channel.id))))
        if per_chat:
            limits.append((per_chat, ("send-chat", str(job.channel.id), job.recipient.external_id)))
        if not limits:
            return 0.0
        return await self.ctx.limiter.try_acquire(limits)

    async def _send(self, job: _Job) -> SendResult | Exception:
        # Claimed in the same batch as a send the provider has just refused with a 429.
        held = self.holds.remaining(job.channel.id)
        if held > 0:
            return _Throttled(held)
        connector = get_connector(job.channel.type)
        wait = await self._throttle(job, connector)
        if wait > 0:
            return _Throttled(wait)
        try:
            outbound = OutboundMessage(
                message_id=job.message.id,
                recipient_external_id=job.recipient.external_id,
                text=job.message.text,
                attachments=[a for a in job.message.attachments if not is_upload(a)],
                meta=job.message.meta,
                files=await self._files(job.message),
            )
            return await connector.send(job.channel.credentials, job.channel.settings, outbound)
        except TemporaryError as exc:
            if exc.retry_after is not None and exc.retry_after > 0:
                self.holds.hold(job.channel.id, exc.retry_after)
            return exc
        except Exception as exc:  # recorded below: the batch goes on
            return exc

    async def _files(self, msg: Message) -> list[OutboundFile]:
        """The bytes of the uploads a message carries, read from the storage."""
        uploads = [a for a in msg.attachments if is_upload(a)]
        if not uploads:
            return []
        storage = storage_of(self.ctx)
        try:
            return [
                OutboundFile(a["filename"], a["content_type"], await storage.get(a["sha256"]))
                for a in uploads
            ]
        except StoredFileMissing:
            raise PermanentError("An attached file is gone from the storage") from None

    async def _record(
        self, session: AsyncSession, job: _Job, result: SendResult | Exception
    ) -> None:
        msg, channel_type = job.message, job.channel.type
        if isinstance(result, SendResult):
            provider_id = result.provider_message_id
            early = (
                await session.execute(
                    _RECORD_SENT,
                    {"id": msg.id, "provider_id": provider_id, "now": datetime.now(UTC)},
                )
            ).all()
            SENT.labels(channel_type).inc()
            await raise_event(
                session,
                MessageUpdated(
                    message_id=msg.id,
                    conversation_id=msg.conversation_id,
                    change="delivery_state",
                    state=DeliveryState.sent.value,
                ),
            )
            if early and provider_id is not None:
                statuses = [pending_statuses.as_status(provider_id, row) for row in early]
                await pending_statuses.apply_kept(session, job.channel, statuses)
            return
        if isinstance(result, _Throttled):
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.message_id == msg.id)
                .values(
                    due_at=datetime.now(UTC) + timedelta(seconds=result.wait), claimed_until=None
                )
            )
            return
        attempts = job.attempts + 1
        settings = self.ctx.settings
        if isinstance(result, PermanentError):
            SEND_FAILURES.labels(channel_type, "permanent").inc()
            await self._fail(session, job, result.reason, result.recipient_unreachable)
            return
        reason = result.reason if isinstance(result, TemporaryError) else repr(result)
        SEND_FAILURES.labels(channel_type, "temporary").inc()
        if attempts >= settings.outbox_max_attempts:
            await self._fail(session, job, f"gave up after {attempts} attempts: {reason}", False)
            return
        delay = retry_delay(
            attempts, settings.outbox_backoff_initial_seconds, settings.outbox_backoff_max_seconds
        )
        if isinstance(result, TemporaryError) and result.retry_after is not None:
            delay = max(delay, result.retry_after)
        log.info(
            "%s: message %s attempt %d failed (%s); retry in %.1fs",
            self.name,
            msg.id,
            attempts,
            reason,
            delay,
        )
        await session.execute(
            update(OutboxItem)
            .where(OutboxItem.message_id == msg.id)
            .values(
                attempts=attempts,
                last_error=reason[:2000],
                due_at=datetime.now(UTC) + timedelta(seconds=delay),
                claimed_until=None,
            )
        )

    async def _fail(self, session: AsyncSession, job: _Job, reason: str, unreachable: bool) -> None:
        msg = job.message
        await session.execute(
            update(Message)
            .where(Message.id == msg.id)
            .values(delivery_state=DeliveryState.failed, failure_reason=reason[:2000])
        )
        await session.execute(delete(OutboxItem).where(OutboxItem.message_id == msg.id))
        if unreachable:
            await session.execute(
                update(ContactIdentity)
                .where(ContactIdentity.id == job.recipient.id)
                .values(reachable=False, unreachable_reason=reason[:2000])
            )
        await raise_event(
            session,
            MessageDeliveryFailed(
                message_id=msg.id,
                conversation_id=msg.conversation_id,
                contact_id=msg.contact_id,
                operator_id=msg.operator_id,
                channel_type=job.channel.type,
                reason=reason[:500],
            ),
        )
        await raise_event(
            session,
            MessageUpdated(
                message_id=msg.id,
                conversation_id=msg.conversation_id,
                change="delivery_state",
                state=DeliveryState.failed.value,
            ),
        )
