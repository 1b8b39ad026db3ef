"""Automatic replies: a channel's greeting to a new conversation, and its out-of-office reply
to a client who writes while the conversation's team (else the channel's) is closed.

Exactly once, across processes: the transaction that inserts the claim row (conversation,
kind, period) sends; a concurrent one blocks on that key until the first commits, then
inserts nothing and sends nothing. The out-of-office period is the off-hours stretch the
message arrived in, keyed by when it began (chatcentre_business_closed_since), so the next
closed stretch gets one more. The reply goes through the outbox like every automated message,
as the channel's approved template (settings.chain_templates["out_of_office" or "greeting"])
where its reply window is closed, and not at all when it is closed and there is none."""

import re
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.business_hours import known_texts, service
from app.business_hours.models import AutoReplyClaim, AutoReplyKind, AutoReplyText
from app.business_hours.schemas import LANGUAGES
from app.channels import registry
from app.channels.models import ChannelAccount
from app.contacts.models import Contact, ContactIdentity
from app.events.types import ConversationCreated, MessageCreated
from app.inbox import commands as inbox_commands
from app.inbox import rules as inbox_rules
from app.inbox.models import Conversation, Message, SenderType

ONCE = datetime(1970, 1, 1, tzinfo=UTC)  # the greeting's period: the conversation's life
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")


def contact_language(contact: Contact | None, text: str | None) -> str:
    """The contact's language: attributes.language when it is one we write in, else Russian
    for a message in Cyrillic, else English."""
    stated = str((contact.attributes or {}).get("language", "")) if contact else ""
    if stated[:2].lower() in LANGUAGES:
        return stated[:2].lower()
    return "ru" if text and _CYRILLIC.search(text) else "en"


async def _texts(session: AsyncSession, channel_id: int, kind: AutoReplyKind) -> dict[str, str]:
    """The channel's texts of a kind by language; empty: that reply is off (checked first,
    so a channel without automatic replies costs one lookup per message, and none where the
    ingest's SQL already said it has none)."""
    if known_texts.none_of(session, channel_id, kind.value):
        return {}
    rows = await session.execute(
        select(AutoReplyText.language, AutoReplyText.text).where(
            AutoReplyText.channel_account_id == channel_id, AutoReplyText.kind == kind.value
        )
    )
    return {language: text for language, text in rows}


async def greet(session: AsyncSession, ev: ConversationCreated) -> None:
    """A conversation the client opened gets the channel's greeting, once."""
    if ev.opened_by != "contact":
        return
    texts = await _texts(session, ev.channel_id, AutoReplyKind.greeting)
    conv = await session.get(Conversation, ev.conversation_id) if texts else None
    if conv is not None:
        await _send_once(session, conv, AutoReplyKind.greeting, ONCE, texts, None)


async def out_of_office(session: AsyncSession, ev: MessageCreated) -> None:
    """A client's message while the team is closed: one reply per off-hours period."""
    if ev.direction != "inbound" or ev.sender_type != SenderType.contact:
        return
    texts = await _texts(session, ev.channel_id, AutoReplyKind.out_of_office)
    if not texts:
        return
    message = await session.get(Message, ev.message_id)
    conv = await session.get(Conversation, ev.conversation_id)
    channel = await session.get(ChannelAccount, ev.channel_id)
    if message is None or conv is None or channel is None:
        return
    if conv.status == inbox_rules.WITH_BOT:
        return  # the bot answers at any hour
    team_id = conv.team_id or channel.team_id
    if team_id is None:
        return
    since = await service.closed_since(session, team_id, message.created_at)
    if since is not None:
        await _send_once(session, conv, AutoReplyKind.out_of_office, since, texts, message.text)


async def _send_once(
    session: AsyncSession,
    conv: Conversation,
    kind: AutoReplyKind,
    period: datetime,
    texts: dict[str, str],
    inbound_text: str | None,
) -> None:
    claimed = await session.scalar(
        insert(AutoReplyClaim)
        .values(conversation_id=conv.id, kind=kind.value, period_start=period)
        .on_conflict_do_nothing()
        .returning(AutoReplyClaim.conversation_id)
    )
    if claimed is None:
        return  # already sent for this conversation and period
    contact = await session.get(Contact, conv.contact_id)
    language = contact_language(contact, inbound_text)
    text = texts.get(language) or texts.get("en") or next(iter(texts.values()))
    channel = await session.get(ChannelAccount, conv.channel_account_id)
    identity = await session.get(ContactIdentity, conv.identity_id)
    if channel is None:
        return
    plugin = registry.get(channel.type)
    last_inbound = identity.last_inbound_at if identity else None
    template = None
    window = plugin.reply_window(last_inbound)
    if window is not None and not window.open:
        template = plugin.template_for_step(channel, kind.value, language, {})
        if template is None:
            return  # the client cannot be written to freely, and no template says it
    message = await inbox_commands.queue_automated(
        session,
        conv,
        channel,
        text,
        {"auto_reply": kind.value},
        template=template,
        external_id=f"auto/{kind.value}/{conv.id}/{int(period.timestamp())}",
    )
    await session.execute(
        update(AutoReplyClaim)
        .where(
            AutoReplyClaim.conversation_id == conv.id,
            AutoReplyClaim.kind == kind.value,
            AutoReplyClaim.period_start == period,
        )
        .values(message_id=message.id)
    )
