"""Widget sessions and visitor messages. The visitor token binds a contact to one widget.

Revocation: a visitor token carries the contact's visitor_token_version ("ver"); bumping it
(revoke_sessions) ends every widget session of the contact: their tokens answer 401
token_revoked and their open sockets are closed with 4401. The check runs on every widget
request, so the version is kept per process for a few seconds (VisitorVersions): at most one
primary-key lookup per visitor per VERSION_TTL, none for a visitor seen just before. A
revocation clears the entry on every node at once through the event bus. A visitor's
message (post_message) needs no lookup at all: the ingest's own statement reads the version."""

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments import service as attachments_service
from app.attachments.models import Attachment
from app.attachments.service import VisitorLinks
from app.channels.models import ChannelAccount
from app.contacts import identity
from app.contacts.models import Contact
from app.core.context import AppContext
from app.core.errors import Invalid, NotFound, Unauthorized
from app.core.session import VISITOR_SESSIONS_REVOKED, Event
from app.events.dispatch import raise_event
from app.events.types import ContactSessionsRevoked, MessageUpdated
from app.inbox.models import Conversation, DeliveryState, Direction, Message, SenderType
from app.inbox.rules import ACTIVE_STATUSES
from app.ingest.service import IngestResult, StaleToken, TokenCheck, ingest
from app.operators import security
from app.webchat.schemas import WidgetMessageRead, to_widget_message
from connectors.base import Sender
from connectors.webchat.connector import InvalidPayload, parse_visitor_message, verify_identity

log = logging.getLogger(__name__)

VISITOR_TOKEN = "visitor"
SESSIONS_REVOKED = VISITOR_SESSIONS_REVOKED
VERSION_TTL = 5.0  # seconds a contact's token version is trusted without reading it again
# A visitor's own message carries no uploads, so reading it back signs no links.
NO_FILES = VisitorLinks(signing_key="", ttl=0)


@dataclass(frozen=True, slots=True)
class Visitor:
    contact_id: int
    channel_id: int
    external_id: str
    version: int = 0  # the contact's visitor_token_version when the token was issued


def read_visitor_token(signing_key: str, token: str, channel: ChannelAccount) -> Visitor:
    """The token's visitor, if it is signed, unexpired and for this widget. Whether it was
    revoked since is authenticate_visitor's part."""
    claims = security.read_token(signing_key, token, VISITOR_TOKEN)
    if claims.get("ch") != channel.id:
        raise Unauthorized("The visitor token belongs to another widget", "invalid_token")
    try:
        version = int(claims.get("ver", 0))
    except (TypeError, ValueError):
        raise Unauthorized("The token is not valid", "invalid_token") from None
    return Visitor(
        contact_id=int(claims["sub"]),
        channel_id=channel.id,
        external_id=claims["ext"],
        version=version,
    )


class VisitorVersions:
    """contact id -> visitor_token_version, as read from the database within VERSION_TTL.
    Versions only grow, so a token older than the version held here is revoked without a
    lookup; a token newer than it (a session started after a revocation that this process
    has not heard of) makes it read again."""

    MAX_ENTRIES = 100_000

    def __init__(self, ttl: float = VERSION_TTL) -> None:
        self.ttl = ttl
        self._seen: dict[int, tuple[float, int]] = {}

    async def current(self, session: AsyncSession, contact_id: int, at_least: int) -> int:
        now = time.monotonic()
        hit = self._seen.get(contact_id)
        if hit is not None and now - hit[0] < self.ttl and at_least <= hit[1]:
            return hit[1]
        version = await session.scalar(
            select(Contact.visitor_token_version).where(Contact.id == contact_id)
        )
        if version is None:
            raise Unauthorized("The visitor is unknown: start a new session", "invalid_token")
        self.remember(contact_id, version)
        return version

    def known(self, contact_id: int, default: int) -> int:
        """The version read within the TTL, else `default`."""
        hit = self._seen.get(contact_id)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return default

    def remember(self, contact_id: int, version: int) -> None:
        now = time.monotonic()
        if len(self._seen) >= self.MAX_ENTRIES:
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.ttl}
            if len(self._seen) >= self.MAX_ENTRIES:
                self._seen.clear()
        self._seen[contact_id] = (now, version)

    def forget(self, contact_ids: Iterable[int]) -> None:
        for contact_id in contact_ids:
            self._seen.pop(contact_id, None)


def versions_of(ctx: AppContext) -> VisitorVersions:
    """One cache per process (per app context)."""
    return ctx.shared(VisitorVersions, VisitorVersions)


async def authenticate_visitor(
    session: AsyncSession, ctx: AppContext, token: str, channel: ChannelAccount
) -> Visitor:
    """read_visitor_token, and the session was not ended since the token was issued."""
    return await ensure_current(session, ctx, read_visitor_token(ctx.signing_key, token, channel))


async def ensure_current(session: AsyncSession, ctx: AppContext, visitor: Visitor) -> Visitor:
    """The visitor, unless their sessions were ended since their token was issued."""
    current = await versions_of(ctx).current(session, visitor.contact_id, visitor.version)
    return current_or_revoked(visitor, current)


def current_or_revoked(visitor: Visitor, current: int | None) -> Visitor:
    """The visitor, if their token is not older than the contact's current version."""
    if current is None:
        raise Unauthorized("The visitor is unknown: start a new session", "invalid_token")
    if visitor.version < current:
        raise Unauthorized("This chat session was ended: start a new one", "token_revoked")
    return visitor


def reject_known_revoked(ctx: AppContext, visitor: Visitor) -> Visitor:
    """No lookup: refuses a token this process already knows to be revoked. The rest of
    the check is post_message's, in the ingest's own statement."""
    return current_or_revoked(visitor, versions_of(ctx).known(visitor.contact_id, 0))


def ticket_claims(visitor: Visitor) -> dict[str, Any]:
    """What a WebSocket ticket keeps of the visitor (app/realtime/tickets.py)."""
    return {
        "sub": visitor.contact_id,
        "ch": visitor.channel_id,
        "ext": visitor.external_id,
        "ver": visitor.version,
    }


def visitor_from_ticket(claims: dict[str, Any], channel: ChannelAccount) -> Visitor:
    if claims.get("ch") != channel.id:
        raise Unauthorized("The ticket belongs to another widget", "invalid_ticket")
    return Visitor(
        contact_id=int(claims["sub"]),
        channel_id=channel.id,
        external_id=str(claims["ext"]),
        version=int(claims["ver"]),
    )


async def revoke_sessions(session: AsyncSession, contact_id: int) -> int:
    """Ends every widget session of the contact (caller commits). Returns the new version."""
    version = await session.scalar(
        update(Contact)
        .where(Contact.id == contact_id)
        .values(visitor_token_version=Contact.visitor_token_version + 1)
        .returning(Contact.visitor_token_version)
    )
    if version is None:
        raise NotFound(f"Contact {contact_id} not found")
    await raise_event(session, ContactSessionsRevoked(contact_id=contact_id))
    return int(version)


def revocation_listener(ctx: AppContext) -> Callable[[list[Event]], Awaitable[None]]:
    """A bus subscriber for every process: forgets revoked contacts' versions (the hub
    closes their open sockets)."""

    async def on_events(events: list[Event]) -> None:
        revoked = {e["contact_id"] for e in events if e.get("type") == SESSIONS_REVOKED}
        if revoked:
            versions_of(ctx).forget(revoked)

    return on_events


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
        external_id = identity.proven_widget_id(identifier)
    elif identifier_hash is not None:
        raise Invalid("identifier_hash was given without identifier", "identity_mismatch")
    else:
        external_id = f"visitor:{uuid.uuid4()}"
    # A Sender's email is vouched for (connectors/base.py); the visitor's is only declared.
    _, contact_id, _ = await identity.upsert_identity(
        session,
        channel.id,
        Sender(external_id=external_id, name=name),
        datetime.now(UTC),
        inbound=False,
    )
    await identity.declare_email(session, contact_id, email)
    active = (
        select(Conversation.id)
        .where(
            Conversation.contact_id == contact_id,
            Conversation.channel_account_id == channel.id,
            Conversation.status.in_(ACTIVE_STATUSES),
        )
        .scalar_subquery()
    )
    version, conversation_id = (
        await session.execute(
            select(Contact.visitor_token_version, active).where(Contact.id == contact_id)
        )
    ).one()
    token = security.issue_token(
        signing_key,
        VISITOR_TOKEN,
        str(contact_id),
        ttl,
        ch=channel.id,
        ext=external_id,
        ver=version,
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
    attachment_ids: list[str] | None = None,
    links: VisitorLinks = NO_FILES,
    versions: VisitorVersions | None = None,
) -> tuple[IngestResult, WidgetMessageRead]:
    """Stores the visitor's message. Their token's revocation is checked in the ingest's
    own statement (no lookup of its own); a revoked token stores nothing (the caller's
    transaction is not committed). `versions` learns the version read."""
    files = await visitor_files(session, visitor, attachment_ids or [])
    if not text.strip() and not files:
        raise Invalid("The text is empty", "empty_text")
    if len(text) > max_chars:
        raise Invalid(f"The text is over {max_chars} characters", "text_too_long")
    try:
        inbound = parse_visitor_message(
            visitor.external_id,
            text,
            client_message_id,
            fallback_id=str(uuid.uuid4()),
            attachments=[attachments_service.descriptor(a) for a in files],
        )
    except InvalidPayload as exc:
        raise Invalid(str(exc), "invalid_client_message_id") from exc
    try:
        result = await ingest(
            session, channel, inbound, token=TokenCheck(visitor.contact_id, visitor.version)
        )
    except StaleToken as stale:
        if versions is not None and stale.current is not None:
            versions.remember(visitor.contact_id, stale.current)
        current_or_revoked(visitor, stale.current)
        raise  # not reached: the token is older than stale.current
    if versions is not None and result.token_version is not None:
        versions.remember(visitor.contact_id, result.token_version)
    if result.message_id is not None and result.conversation_id is not None:
        await attachments_service.link_to_message(session, result.message_id, files)
        # New: everything the answer shows is known, no need to read it back.
        return result, WidgetMessageRead(
            id=result.message_id,
            conversation_id=result.conversation_id,
            direction=Direction.inbound,
            sender_type=SenderType.contact,
            text=inbound.text,
            attachments=[links.read(item) for item in inbound.attachments],
            created_at=result.received_at or datetime.now(UTC),
            sent_at=None,
        )
    stored = await session.scalar(
        select(Message).where(
            Message.channel_account_id == channel.id, Message.external_id == inbound.external_id
        )
    )
    assert stored is not None
    return result, to_widget_message(stored, links)


async def visitor_files(
    session: AsyncSession, visitor: Visitor, attachment_ids: list[str]
) -> list[Attachment]:
    """The visitor's own uploads, in order; any other id (another visitor's, an operator's)
    is refused as unknown, so an id reveals nothing."""
    found = await attachments_service.by_ids(session, attachment_ids)
    files = []
    for attachment_id in attachment_ids:
        attachment = found.get(attachment_id)
        if attachment is None or attachment.contact_id != visitor.contact_id:
            raise Invalid(f"Unknown attachment {attachment_id!r}", "unknown_attachment")
        files.append(attachment)
    return files


async def mark_read_by_visitor(session: AsyncSession, visitor: Visitor, up_to: int) -> list[int]:
    """The visitor has seen our messages up to message `up_to`: those sent (or delivered)
    in their conversations on this widget become read, as a provider's read receipt does
    (the consoles show it through message.updated). Returns the ids changed."""
    rows = (
        await session.execute(
            update(Message)
            .where(
                Message.conversation_id.in_(
                    select(Conversation.id).where(
                        Conversation.contact_id == visitor.contact_id,
                        Conversation.channel_account_id == visitor.channel_id,
                    )
                ),
                Message.direction == Direction.outbound,
                Message.delivery_state.in_([DeliveryState.sent, DeliveryState.delivered]),
                Message.id <= up_to,
            )
            .values(delivery_state=DeliveryState.read)
            .returning(Message.id, Message.conversation_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    for message_id, conversation_id in rows:
        await raise_event(
            session,
            MessageUpdated(
                message_id=message_id,
                conversation_id=conversation_id,
                change="delivery_state",
                state=DeliveryState.read.value,
            ),
        )
    return [r[0] for r in rows]


async def active_conversation_id(session: AsyncSession, visitor: Visitor) -> int | None:
    """The visitor's open conversation on this widget, if any."""
    return await session.scalar(
        select(Conversation.id)
        .where(
            Conversation.contact_id == visitor.contact_id,
            Conversation.channel_account_id == visitor.channel_id,
            Conversation.status.in_(ACTIVE_STATUSES),
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    )


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
