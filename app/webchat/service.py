"""Widget sessions and visitor messages. The visitor token binds a contact to one widget."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.core.errors import Invalid, Unauthorized
from app.inbox.ingest import IngestResult, ingest, upsert_identity
from app.inbox.models import ACTIVE_STATUSES, Conversation, Direction, Message, SenderType
from app.operators import security
from app.webchat.schemas import WidgetMessageRead, to_widget_message
from connectors.base import Sender
from connectors.webchat.connector import InvalidPayload, parse_visitor_message, verify_identity

VISITOR_TOKEN = "visitor"


@dataclass(frozen=True, slots=True)
class Visitor:
    contact_id: int
    channel_id: int
    external_id: str


def read_visitor_token(signing_key: str, token: str, channel: ChannelAccount) -> Visitor:
    claims = security.read_token(signing_key, token, VISITOR_TOKEN)
    if claims.get("ch") != channel.id:
        raise Unauthorized("The visitor token belongs to another widget", "invalid_token")
    return Visitor(contact_id=int(claims["sub"]), channel_id=channel.id, external_id=claims["ext"])


async def start_session(
    session: AsyncSession,
    channel: ChannelAccount,
    signing_key: str,
    ttl: int,
    *,
    identifier: str | None,
    identifier_hash: str | None,
    name: str | None,
    email: str | None,
) -> tuple[str, int, int | None]:
    """Returns (visitor token, contact id, active conversation id or None)."""
    if identifier is not None:
        secret = channel.credentials.get("identity_secret")
        if (
            not secret
            or not identifier_hash
            or not verify_identity(secret, identifier, identifier_hash)
        ):
            raise Unauthorized("identifier_hash does not match identifier", "identity_mismatch")
        external_id = f"user:{identifier}"
    elif identifier_hash is not None:
        raise Invalid("identifier_hash was given without identifier", "identity_mismatch")
    else:
        external_id = f"visitor:{uuid.uuid4()}"
    _, contact_id, _ = await upsert_identity(
        session,
        channel,
        Sender(external_id=external_id, name=name, email=email),
        datetime.now(UTC),
        inbound=False,
    )
    conversation_id = await session.scalar(
        select(Conversation.id).where(
            Conversation.contact_id == contact_id,
            Conversation.channel_account_id == channel.id,
            Conversation.status.in_(ACTIVE_STATUSES),
        )
    )
    token = security.issue_token(
        signing_key, VISITOR_TOKEN, str(contact_id), ttl, ch=channel.id, ext=external_id
    )
    return token, contact_id, conversation_id


async def post_message(
    session: AsyncSession,
    channel: ChannelAccount,
    visitor: Visitor,
    *,
    text: str,
    client_message_id: str | None,
    max_chars: int,
) -> tuple[IngestResult, WidgetMessageRead]:
    if not text.strip():
        raise Invalid("The text is empty", "empty_text")
    if len(text) > max_chars:
        raise Invalid(f"The text is over {max_chars} characters", "text_too_long")
    try:
        inbound = parse_visitor_message(
            visitor.external_id, text, client_message_id, fallback_id=str(uuid.uuid4())
        )
    except InvalidPayload as exc:
        raise Invalid(str(exc), "invalid_client_message_id") from exc
    result = await ingest(session, channel, inbound)
    if result.message_id is not None and result.conversation_id is not None:
        # New: everything the answer shows is known, no need to read it back.
        return result, WidgetMessageRead(
            id=result.message_id,
            conversation_id=result.conversation_id,
            direction=Direction.inbound,
            sender_type=SenderType.contact,
            text=text,
            attachments=[],
            created_at=result.received_at or datetime.now(UTC),
            sent_at=None,
        )
    stored = await session.scalar(
        select(Message).where(
            Message.channel_account_id == channel.id, Message.external_id == inbound.external_id
        )
    )
    assert stored is not None
    return result, to_widget_message(stored)


async def visitor_conversation_ids(session: AsyncSession, visitor: Visitor) -> list[int]:
    rows = await session.scalars(
        select(Conversation.id).where(
            Conversation.contact_id == visitor.contact_id,
            Conversation.channel_account_id == visitor.channel_id,
        )
    )
    return list(rows.all())


def allowed_origin(channel: ChannelAccount, origin: str | None) -> bool:
    """Browsers always send Origin on a cross-site call, so a foreign site is refused. A call
    without Origin is not from a browser page (curl, a server): CORS cannot restrain it and
    the visitor token still guards it, so it passes."""
    origins: list[Any] = channel.settings.get("allowed_origins") or []
    if origin is None or not origins or "*" in origins:
        return True
    return origin.rstrip("/") in origins
