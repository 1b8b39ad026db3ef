"""The single inbound path for every channel: webhook, poller or widget -> ingest().

One transaction and one statement, a call of the SQL function chatcentre_ingest_message
(app/ingest/sql/ingest_message.sql, declared in app/ingest/sql.py), which in the server:
1. upserts the sender's identity; its row lock serialises one sender's messages, so the
   find-or-open of the conversation below cannot race;
2. finds the active conversation or opens one (not for a message already stored);
3. inserts the message idempotently, its touchpoint and the conversation's counters at once;
4. stores message.created (and conversation.created) in domain_events;
5. routes the conversation it opened to an operator it can claim at once, or queues it.
Here the same events are raised (stored=True: their rows exist) so their handlers run: in
this transaction (app/handlers.py: recording a survey's answer), or after the caller's
commit (callers commit with app.events.dispatch.commit_then_follow_up): routing a new
conversation the statement left because every operator with room was being claimed.
A redelivered message changes nothing.
Frames are published after the caller commits."""

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.business_hours import known_texts
from app.channels import registry
from app.channels.models import ChannelAccount
from app.core.metrics import INGEST_DUPLICATES, INGESTED
from app.events.dispatch import from_stored, raise_event
from app.events.types import (
    ConversationCreated,
    ConversationRoutingDeferred,
    MessageCreated,
    MessageUpdated,
)
from app.routing import service as routing_service
from app.surveys import answers as surveys_answers
from connectors.base import InboundMessage, MessageEdit

# One call per message instead of several round trips (bench/floor_app.py runs the same
# statement).
INGEST_MESSAGE = text("""
SELECT * FROM chatcentre_ingest_message(
    :channel_id, :team_id, :channel_type,
    :sender_external_id, :username, :name, :email, :phone, :source,
    :external_id, :kind, :text, :attachments, :sent_at, :meta, :reply_to_external_id,
    :rating, :survey_button, :survey_window_hours, :now, :inbound_at, :conversation_id)
""")


# The same, with the contact's current visitor-token version read in the same statement, so
# a widget post checks its token's revocation without a round trip of its own (the scalar
# subquery reads as of the statement's start, like a lookup just before it).
_TOKEN_VERSION = (
    "SELECT i.*, (SELECT c.visitor_token_version FROM contacts c"
    " WHERE c.id = :token_contact_id) AS o_token_version FROM ("
)
INGEST_VISITOR_MESSAGE = text(_TOKEN_VERSION + INGEST_MESSAGE.text.strip() + ") i")


class StaleToken(Exception):
    """The sender's token is older than their contact's current token version (or the
    contact is gone): raised before anything of the message is taken further, so the
    caller's transaction, rolled back, stores nothing."""

    def __init__(self, current: int | None):
        super().__init__(current)
        self.current = current


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """A widget visitor's token: the contact and the token version it was issued with."""

    contact_id: int
    version: int


# session.info: the ids of messages this session stored that are no opt-out word (the
# ingest's statement checked), so the opt-out handler need not look again.
_NOT_OPT_OUT = "ingest_not_opt_out"


def no_opt_out_word(session: AsyncSession, message_id: int) -> bool:
    """True when the ingest that stored the message found it is no opt-out word."""
    return message_id in session.info.get(_NOT_OPT_OUT, ())


@dataclass(frozen=True, slots=True)
class IngestResult:
    message_id: int | None  # None: seen before, nothing changed
    conversation_id: int | None
    contact_id: int
    conversation_created: bool = False
    contact_created: bool = False
    received_at: datetime | None = None  # the stored message's created_at
    token_version: int | None = None  # the contact's, when a TokenCheck was asked

    @property
    def duplicate(self) -> bool:
        return self.message_id is None


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
    session: AsyncSession,
    channel: ChannelAccount,
    msg: InboundMessage,
    *,
    conversation_id: int | None = None,
    token: TokenCheck | None = None,
) -> IngestResult:
    """conversation_id: the conversation the message continues whoever sent it (a mail
    thread matched by our own Message-IDs or signed token); None: the sender's own, found or
    opened. Either way the message keeps its sender's contact (IngestResult.contact_id).
    token: the visitor's token is checked against their contact's current version in the
    same statement (StaleToken when revoked; IngestResult.token_version otherwise)."""
    msg = sanitize(msg)
    now = datetime.now(UTC)
    rating = surveys_answers.rating_of(msg)
    row = (
        await session.execute(
            INGEST_MESSAGE if token is None else INGEST_VISITOR_MESSAGE,
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
                "rating": rating,
                "survey_button": surveys_answers.is_survey_button(msg),
                "survey_window_hours": surveys_answers.window_hours(channel),
                "now": now,
                "inbound_at": registry.get(channel.type).inbound_at(msg.sent_at, now),
                "conversation_id": conversation_id,
                **({} if token is None else {"token_contact_id": token.contact_id}),
            },
        )
    ).one()
    token_version = None
    if token is not None:
        token_version = row.o_token_version
        if token_version is None or token.version < token_version:
            raise StaleToken(token_version)
    if row.o_message_id is None:  # seen before (its conversation may be closed since)
        INGEST_DUPLICATES.labels(channel.type).inc()
        return IngestResult(
            None, row.o_conversation_id, row.o_contact_id, token_version=token_version
        )
    INGESTED.labels(channel.type).inc()
    known_texts.remember(session, channel.id, row.o_auto_reply_kinds or ())
    if not row.o_opt_out_word:
        session.info.setdefault(_NOT_OPT_OUT, set()).add(row.o_message_id)
    if row.o_conversation_created:
        created = from_stored(ConversationCreated, row.o_conversation_event)
        await raise_event(session, created, stored=True)
    # A rating that answers a survey is the surveys' handler's to record.
    await raise_event(session, from_stored(MessageCreated, row.o_message_event), stored=True)
    if row.o_route_deferred:  # routing takes it after the commit (app/handlers.py)
        await raise_event(
            session, ConversationRoutingDeferred(conversation_id=row.o_conversation_id)
        )
    elif row.o_conversation_created:  # the statement routed it (or left it to its bot)
        await routing_service.raise_routed(
            session,
            row.o_conversation_id,
            assignee_id=row.o_assignee_id,
            queued=row.o_route_queued,
            event=row.o_route_event,
            notify_owner_id=row.o_notify_owner_id,
        )
    return IngestResult(
        row.o_message_id,
        row.o_conversation_id,
        row.o_contact_id,
        row.o_conversation_created,
        row.o_contact_created,
        now,
        token_version,
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
    await raise_event(
        session,
        MessageUpdated(message_id=message_id, conversation_id=conversation_id, change="edited"),
    )
    return int(message_id)
