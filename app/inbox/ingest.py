"""The single inbound path for every channel: webhook, poller or widget -> ingest().

One transaction, three statements in the common case (four for a new contact):
1. upsert the sender's identity; its row lock serialises one sender's messages, so the
   find-or-open of the conversation below cannot race;
2. find the active conversation or open one (not for a message already stored);
3. insert the message idempotently, its touchpoint and the conversation's counters at once.
A redelivered message changes nothing. Events are published after the caller commits."""

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.observability.metrics import INGEST_DUPLICATES, INGESTED
from app.realtime.events import emit
from app.routing import service as routing_service
from app.routing.service import DEFAULT_POLICY
from app.surveys import answers as surveys_answers
from app.touchpoints.models import Reaction, TouchKind, Touchpoint
from app.touchpoints.service import shape_of
from connectors.base import InboundMessage, MessageEdit, Sender, StatusUpdate

_UPSERT_IDENTITY = text("""
WITH ci AS (
    INSERT INTO contact_identities AS ci
        (contact_id, channel_account_id, external_id, username, display_name, last_inbound_at)
    VALUES (nextval(pg_get_serial_sequence('contacts', 'id')), :channel_id, :external_id,
            :username, :name, :inbound_at)
    ON CONFLICT (channel_account_id, external_id) DO UPDATE SET
        last_inbound_at = COALESCE(EXCLUDED.last_inbound_at, ci.last_inbound_at),
        username = COALESCE(EXCLUDED.username, ci.username),
        display_name = COALESCE(EXCLUDED.display_name, ci.display_name)
    RETURNING id, contact_id, (xmax = 0) AS inserted
), touched AS (
    -- A known contact: refresh it in the same round trip (a new one is inserted next).
    UPDATE contacts c SET last_seen_at = :now,
        phone = COALESCE(c.phone, :phone), email = COALESCE(c.email, :email),
        name = COALESCE(c.name, :name), source = COALESCE(c.source, :source)
    FROM ci WHERE c.id = ci.contact_id AND NOT ci.inserted
)
SELECT id, contact_id, inserted FROM ci
""")

_INSERT_CONTACT = text("""
INSERT INTO contacts (id, name, email, phone, source, last_seen_at)
VALUES (:id, :name, :email, :phone, :source, :now)
""")

_FIND_OR_OPEN_CONVERSATION = text("""
WITH found AS (
    -- A rating also answers a survey asked in the open conversation itself (after a
    -- delivery, say) when that survey is the one still waiting.
    SELECT id, false AS created,
           (CAST(:is_rating AS boolean) AND EXISTS (
               SELECT 1 FROM surveys s WHERE s.conversation_id = conversations.id
                 AND s.answered_at IS NULL
                 AND s.sent_at > CAST(:now AS timestamptz)
                                 - make_interval(hours => :survey_window_hours))) AS survey
    FROM conversations
    WHERE contact_id = :contact_id AND channel_account_id = :channel_id
      AND status <> 'resolved'
), awaiting_rating AS (
    -- A rating answers the survey of a resolved conversation instead of opening a new one.
    SELECT conversation_id AS id, false AS created, true AS survey FROM surveys
    WHERE CAST(:is_rating AS boolean) AND NOT EXISTS (SELECT 1 FROM found)
      AND contact_id = :contact_id AND channel_account_id = :channel_id
      AND answered_at IS NULL
      AND sent_at > CAST(:now AS timestamptz) - make_interval(hours => :survey_window_hours)
    ORDER BY sent_at DESC LIMIT 1
), opened AS (
    INSERT INTO conversations
        (contact_id, channel_account_id, identity_id, team_id, status,
         last_activity_at, last_inbound_at)
    SELECT :contact_id, :channel_id, :identity_id, :team_id, 'open', :now, :now
    WHERE NOT EXISTS (SELECT 1 FROM found) AND NOT EXISTS (SELECT 1 FROM awaiting_rating)
      AND NOT EXISTS (SELECT 1 FROM messages
                      WHERE channel_account_id = :channel_id AND external_id = :external_id)
    RETURNING id, true AS created, false AS survey
)
SELECT * FROM found UNION ALL SELECT * FROM awaiting_rating UNION ALL SELECT * FROM opened
""")

_INSERT_MESSAGE = text("""
WITH m AS (
    INSERT INTO messages
        (conversation_id, channel_account_id, contact_id, direction, sender_type, kind, text,
         attachments, external_id, delivery_state, sent_at, meta, reply_to_id, created_at)
    VALUES (:conversation_id, :channel_id, :contact_id, 'inbound', 'contact', :kind, :text,
            CAST(:attachments AS jsonb), :external_id, 'received', :sent_at,
            CAST(:meta AS jsonb),
            (SELECT id FROM messages WHERE channel_account_id = :channel_id
                                       AND external_id = :reply_to_external_id),
            :now)
    ON CONFLICT (channel_account_id, external_id) DO NOTHING
    RETURNING id
), tp AS (
    INSERT INTO touchpoints
        (contact_id, conversation_id, message_id, channel, direction, kind, reaction,
         recurrence, attention, occurred_at)
    SELECT :contact_id, :conversation_id, id, :channel_type, 'inbound', :touch_kind, :reaction,
           :recurrence, :attention, :now
    FROM m
), c AS (
    UPDATE conversations SET
        last_activity_at = :now, last_inbound_at = :now, unread_count = unread_count + 1,
        status = CASE WHEN status IN ('pending', 'snoozed') THEN 'open' ELSE status END,
        snoozed_until = NULL,
        -- The assignee's answer clock starts at the first unanswered message.
        response_due_at = COALESCE(response_due_at,
            CASE WHEN assignee_id IS NOT NULL AND status <> 'resolved' THEN
            :now + make_interval(secs => COALESCE(
                (SELECT response_target_seconds FROM teams t WHERE t.id = team_id),
                :default_target)) END)
    WHERE id = :conversation_id AND EXISTS (SELECT 1 FROM m)
)
SELECT id FROM m
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
    if inserted:
        await session.execute(
            _INSERT_CONTACT,
            {
                "id": contact_id,
                "name": sender.name,
                "email": sender.email,
                "phone": sender.phone,
                "source": sender.source,
                "now": now,
            },
        )
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
    identity_id, contact_id, contact_created = await upsert_identity(
        session, channel, msg.sender, now, inbound=True
    )
    conv = (
        await session.execute(
            _FIND_OR_OPEN_CONVERSATION,
            {
                "contact_id": contact_id,
                "channel_id": channel.id,
                "identity_id": identity_id,
                "team_id": channel.team_id,
                "external_id": msg.external_id,
                "is_rating": rating is not None,
                "survey_window_hours": surveys_answers.window_hours(channel),
                "now": now,
            },
        )
    ).first()
    if conv is None:  # already stored, and its conversation is closed since
        INGEST_DUPLICATES.labels(channel.type.value).inc()
        return IngestResult(None, None, contact_id)
    conversation_id, conversation_created, answers_survey = conv
    # A pressed button (inline keyboard, interactive reply) is a touch of its own kind; so
    # is the answer to a survey, which also carries the client's reaction.
    answers_survey = rating is not None and (
        answers_survey or surveys_answers.is_survey_button(msg)
    )
    touch_kind = TouchKind.button if msg.kind == "button" else TouchKind.message
    reaction = Reaction.unknown
    if answers_survey and rating is not None:
        touch_kind, reaction = TouchKind.survey, surveys_answers.reaction_for(rating)
    recurrence, attention = shape_of(touch_kind)
    message_id = (
        await session.execute(
            _INSERT_MESSAGE,
            {
                "conversation_id": conversation_id,
                "channel_id": channel.id,
                "contact_id": contact_id,
                "kind": msg.kind,
                "text": msg.text,
                "attachments": orjson.dumps(msg.attachments).decode(),
                "external_id": msg.external_id,
                "sent_at": msg.sent_at,
                "meta": orjson.dumps(msg.meta).decode(),
                "reply_to_external_id": msg.reply_to_external_id,
                "channel_type": channel.type.value,
                "touch_kind": touch_kind.value,
                "reaction": reaction.value,
                "default_target": DEFAULT_POLICY.response_target_seconds,
                "recurrence": recurrence,
                "attention": attention,
                "now": now,
            },
        )
    ).scalar()
    if message_id is None:
        INGEST_DUPLICATES.labels(channel.type.value).inc()
        return IngestResult(None, conversation_id, contact_id)
    INGESTED.labels(channel.type.value).inc()
    if answers_survey and rating is not None:
        await surveys_answers.record_answer(session, conversation_id, message_id, rating)
    if conversation_created:
        emit(session, "conversation.created", conversation_id=conversation_id)
        await routing_service.route(session, conversation_id)
    emit(session, "message.created", conversation_id=conversation_id, message_id=message_id)
    return IngestResult(
        message_id, conversation_id, contact_id, conversation_created, contact_created, now
    )


_APPLY_EDIT = text("""
UPDATE messages SET text = :text, edited_at = :edited_at,
    attachments = COALESCE(CAST(:attachments AS jsonb), attachments)
WHERE channel_account_id = :channel_id AND external_id = :external_id
  AND direction = 'inbound'
RETURNING id, conversation_id
""")


async def apply_edit(
    session: AsyncSession, channel: ChannelAccount, edit: MessageEdit
) -> int | None:
    """The sender edited a stored message: update it in place (no new message). Returns its
    id, or None when we never stored the original."""
    row = (
        await session.execute(
            _APPLY_EDIT,
            {
                "text": edit.text,
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
                channel=channel.type.value,
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
