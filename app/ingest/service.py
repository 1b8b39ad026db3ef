"""The single inbound path for every channel: webhook, poller or widget -> ingest().

One transaction and one statement, a call of the SQL function chatcentre_ingest_message
(see its migration), which in the server:
1. upserts the sender's identity; its row lock serialises one sender's messages, so the
   find-or-open of the conversation below cannot race;
2. finds the active conversation or opens one (not for a message already stored);
3. inserts the message idempotently, its touchpoint and the conversation's counters at once.
Rare follow-ups (a survey answer, routing a new conversation) run here, in the same
transaction. A redelivered message changes nothing. Events are published after the caller
commits."""

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import registry
from app.channels.models import ChannelAccount
from app.core.metrics import INGEST_DUPLICATES, INGESTED
from app.core.session import emit
from app.routing import service as routing_service
from app.routing.service import DEFAULT_POLICY
from app.surveys import answers as surveys_answers
from app.touchpoints.models import Reaction, TouchKind, Touchpoint
from app.touchpoints.service import shape_of
from connectors.base import InboundMessage, MessageEdit, Sender, StatusUpdate

# The statements live in the database as two functions (migration "ingest in one round
# trip"): one call per message instead of three or four round trips.
_UPSERT_IDENTITY = text("""
SELECT * FROM chatcentre_upsert_identity(
    :channel_id, :external_id, :username, :name, :email, :phone, :source, :inbound_at, :now)
""")

INGEST_MESSAGE = text("""
SELECT * FROM chatcentre_ingest_message(
    :channel_id, :team_id, :channel_type,
    :sender_external_id, :username, :name, :email, :phone, :source,
    :external_id, :kind, :text, :attachments, :sent_at, :meta, :reply_to_external_id,
    :is_rating, :survey_button, :survey_window_hours,
    :touch_kind, :recurrence, :attention,
    :survey_reaction, :survey_recurrence, :survey_attention,
    :default_target, :now, :inbound_at)
""")


@dataclass(frozen=True, slots=True)
class IngestResult:
    message_id: int | None  # None: seen before, nothing changed
    conversation_id: int | None
    contact_id: int
    conversation_created: bool = False
    contact_created: bool = False
    received_at: datetime | None = None  # the stored message's created_at

    @property
    def duplicate(self) -> bool:
        return self.message_id is None


async def upsert_identity(
    session: AsyncSession, channel: ChannelAccount, sender: Sender, now: datetime, inbound: bool
) -> tuple[int, int, bool]:
    """Returns (identity id, contact id, contact created). `inbound`: the person wrote now
    (this opens provider reply windows), as opposed to, say, opening a widget session."""
    row = (
        await session.execute(
            _UPSERT_IDENTITY,
            {
                "channel_id": channel.id,
                "external_id": sender.external_id,
                "username": sender.username,
                "name": sender.name,
                "inbound_at": now if inbound else None,
                "email": sender.email,
                "phone": sender.phone,
                "source": sender.source,
                "now": now,
            },
        )
    ).one()
    identity_id, contact_id, inserted = row
    return identity_id, contact_id, bool(inserted)


def _clean(value: Any) -> Any:
    """PostgreSQL refuses NUL characters in text and JSONB: drop them wherever they are."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _key(value: str, limit: int = 200) -> str:
    """An id that fits its column: a longer one is replaced by a digest (still unique)."""
    if len(value) <= limit:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def _cut(value: str | None, limit: int) -> str | None:
    return value[:limit] if value is not None else None


def sanitize(msg: InboundMessage) -> InboundMessage:
    """What a provider sent, made storable: whatever the payload, never a database error."""
    sender = msg.sender
    sender = replace(
        sender,
        external_id=_key(_clean(sender.external_id)),
        name=_cut(_clean(sender.name), 300),
        username=_cut(_clean(sender.username), 200),
        phone=_cut(_clean(sender.phone), 32),
        email=_cut(_clean(sender.email), 320),
        source=_cut(_clean(sender.source), 300),
    )
    return replace(
        msg,
        sender=sender,
        external_id=_key(_clean(msg.external_id)),
        text=_clean(msg.text),
        kind=msg.kind[:24],
        attachments=_clean(msg.attachments),
        reply_to_external_id=(
            _key(_clean(msg.reply_to_external_id)) if msg.reply_to_external_id else None
        ),
        meta=_clean(msg.meta),
    )


async def ingest(
    session: AsyncSession, channel: ChannelAccount, msg: InboundMessage
) -> IngestResult:
    msg = sanitize(msg)
    now = datetime.now(UTC)
    rating = surveys_answers.rating_of(msg)
    touch_kind = TouchKind.button if msg.kind == "button" else TouchKind.message
    recurrence, attention = shape_of(touch_kind)
    survey_recurrence, survey_attention = shape_of(TouchKind.survey)
    row = (
        await session.execute(
            INGEST_MESSAGE,
            {
                "channel_id": channel.id,
                "team_id": channel.team_id,
                "channel_type": channel.type,
                "sender_external_id": msg.sender.external_id,
                "username": msg.sender.username,
                "name": msg.sender.name,
                "email": msg.sender.email,
                "phone": msg.sender.phone,
                "source": msg.sender.source,
                "external_id": msg.external_id,
                "kind": msg.kind,
                "text": msg.text,
                "attachments": orjson.dumps(msg.attachments).decode(),
                "sent_at": msg.sent_at,
                "meta": orjson.dumps(msg.meta).decode(),
                "reply_to_external_id": msg.reply_to_external_id,
                "is_rating": rating is not None,
                "survey_button": surveys_answers.is_survey_button(msg),
                "survey_window_hours": surveys_answers.window_hours(channel),
                "touch_kind": touch_kind.value,
                "recurrence": recurrence,
                "attention": attention,
                "survey_reaction": (
                    surveys_answers.reaction_for(rating).value if rating is not None else None
                ),
                "survey_recurrence": survey_recurrence,
                "survey_attention": survey_attention,
                "default_target": DEFAULT_POLICY.response_target_seconds,
                "now": now,
                "inbound_at": registry.get(channel.type).inbound_at(msg.sent_at, now),
            },
        )
    ).one()
    (
        _identity_id,
        contact_id,
        contact_created,
        conversation_id,
        conversation_created,
        answers_survey,
        message_id,
    ) = row
    if message_id is None:  # seen before (its conversation may be closed since)
        INGEST_DUPLICATES.labels(channel.type).inc()
        return IngestResult(None, conversation_id, contact_id)
    INGESTED.labels(channel.type).inc()
    if answers_survey and rating is not None:
        await surveys_answers.record_answer(session, conversation_id, message_id, rating)
    if conversation_created:
        emit(session, "conversation.created", conversation_id=conversation_id)
        await routing_service.route(session, conversation_id)
    emit(session, "message.created", conversation_id=conversation_id, message_id=message_id)
    return IngestResult(
        message_id, conversation_id, contact_id, conversation_created, contact_created, now
    )


# A deletion empties the message and marks it; an edit after a deletion changes nothing.
_APPLY_EDIT = text("""
UPDATE messages SET
    text = CASE WHEN CAST(:deleted AS boolean) THEN NULL ELSE CAST(:text AS text) END,
    edited_at = CAST(:edited_at AS timestamptz),
    deleted_at = CASE WHEN CAST(:deleted AS boolean) THEN CAST(:edited_at AS timestamptz) END,
    attachments = CASE WHEN CAST(:deleted AS boolean) THEN CAST('[]' AS jsonb)
                       ELSE COALESCE(CAST(:attachments AS jsonb), attachments) END
WHERE channel_account_id = :channel_id AND external_id = :external_id
  AND direction = 'inbound' AND deleted_at IS NULL
RETURNING id, conversation_id
""")


async def apply_edit(
    session: AsyncSession, channel: ChannelAccount, edit: MessageEdit
) -> int | None:
    """The sender edited (or deleted) a stored message: update it in place (no new
    message). Returns its id, or None when we never stored the original."""
    row = (
        await session.execute(
            _APPLY_EDIT,
            {
                "text": _clean(edit.text),
                "deleted": edit.deleted,
                "edited_at": edit.edited_at or datetime.now(UTC),
                "attachments": None
                if edit.attachments is None
                else orjson.dumps(edit.attachments).decode(),
                "channel_id": channel.id,
                "external_id": edit.external_id,
            },
        )
    ).first()
    if row is None:
        return None
    message_id, conversation_id = row
    emit(session, "message.updated", conversation_id=conversation_id, message_id=message_id)
    return int(message_id)


# Receipts arrive out of order: a state only moves up (queued < sent < delivered < read),
# and failed is final. A late "sent" never overwrites "read".
_APPLY_STATUS = text("""
UPDATE messages SET
    delivery_state = :state,
    failure_reason = CASE WHEN :state = 'failed' THEN :reason ELSE failure_reason END,
    sent_at = COALESCE(sent_at, :at)
WHERE channel_account_id = :channel_id AND provider_message_id = :provider_id
  AND direction = 'outbound'
  AND delivery_state <> 'failed'
  AND (CASE delivery_state WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2
                           WHEN 'read' THEN 3 ELSE 0 END)
      < (CASE :state WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3
                     WHEN 'failed' THEN 4 ELSE -1 END)
RETURNING id, conversation_id, contact_id, operator_id
""")


async def apply_status(
    session: AsyncSession, channel: ChannelAccount, status: StatusUpdate
) -> int | None:
    """Moves an outbound message's delivery state forward. Returns the message id when it
    changed; a failure also records a negative touchpoint (a broken link)."""
    reason = None
    if status.state == "failed":
        reason = " ".join(p for p in (status.error_code, status.error_title) if p) or "failed"
    row = (
        await session.execute(
            _APPLY_STATUS,
            {
                "state": status.state,
                "reason": reason,
                "at": status.at,
                "channel_id": channel.id,
                "provider_id": status.provider_message_id,
            },
        )
    ).first()
    if row is None:
        return None
    message_id, conversation_id, contact_id, operator_id = row
    if status.state == "failed":
        recurrence, attention = shape_of(TouchKind.delivery_failure)
        session.add(
            Touchpoint(
                contact_id=contact_id,
                conversation_id=conversation_id,
                message_id=message_id,
                operator_id=operator_id,
                channel=channel.type,
                direction="outbound",
                kind=TouchKind.delivery_failure,
                reaction=Reaction.negative,
                recurrence=recurrence,
                attention=attention,
                meta={"reason": reason, "code": status.error_code},
            )
        )
        await session.flush()
    emit(session, "message.updated", conversation_id=conversation_id, message_id=message_id)
    return int(message_id)
