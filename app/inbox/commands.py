"""The inbox's writes: outgoing messages and notes, replies and integration sends, assignment,
status and read marks."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments import service as attachments_service
from app.attachments.models import Attachment
from app.channels import registry
from app.channels.models import ChannelAccount
from app.channels.plugin import OutgoingContent, Recipient
from app.channels.schemas import TemplateSend
from app.contacts.models import ContactIdentity
from app.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.events.dispatch import raise_event
from app.events.types import (
    ConversationCreated,
    ConversationRead,
    ConversationResolved,
    ConversationStatusChanged,
    MessageCreated,
)
from app.inbox import rules
from app.inbox.models import (
    Conversation,
    ConversationStatus,
    DeliveryState,
    Direction,
    Message,
    SenderType,
)
from app.inbox.queries import get_conversation, usable_files
from app.inbox.visibility import can_see
from app.operators.service import Principal
from connectors.registry import get_connector
from connectors.text import split_text


async def queue_outgoing(
    session: AsyncSession,
    conv: Conversation,
    *,
    text: str,
    private: bool,
    sender_type: SenderType,
    operator_id: int | None,
    external_id: str | None,
    kind: str = "text",
    meta: dict[str, Any] | None = None,
    files: list[Attachment] | None = None,
    touch_kind: str = "message",  # how its touchpoint counts (app.touchpoints TouchKind)
    chain: str | None = None,
    step: str | None = None,
    order_id: int | None = None,
) -> tuple[Message, bool]:
    """Write an outgoing message (or a private note) with its touchpoint and, unless it is a
    note, its outbox row, all in the caller's transaction. Returns (message, created): with
    an external_id, a retry returns the first message. A text longer than the channel's
    provider takes is written as several messages (parts, see _split_for); the first one is
    returned."""
    if external_id is not None:
        existing = await session.scalar(
            select(Message).where(
                Message.channel_account_id == conv.channel_account_id,
                Message.external_id == external_id,
            )
        )
        if existing is not None:
            return existing, False
    channel = await session.get(ChannelAccount, conv.channel_account_id)
    if not private and channel is not None and channel.deleted_at is not None:
        raise Conflict("The conversation's channel was deleted", "channel_deleted")
    now = datetime.now(UTC)
    files = files or []
    if files and kind == "text":
        kind = attachments_service.kind_of(files[0].content_type)
    parts: list[str] = [text]
    if not private and channel is not None and (kind == "text" or files):
        parts = _split_for(channel, text)
    meta = meta or {}
    plugin = registry.find(channel.type) if channel is not None else None
    if not private and plugin is not None and channel is not None:
        # What the channel adds, given the conversation (a mail's subject and thread ids).
        meta = await plugin.outgoing_meta(session, channel, conv.id, operator_id, meta)
    messages: list[Message] = []
    for number, part in enumerate(parts, start=1):
        first = number == 1
        part_meta = meta
        if len(parts) > 1:  # buttons belong under the last part, where the reader ends
            part_meta = {k: v for k, v in meta.items() if k != "buttons" or number == len(parts)}
            part_meta |= {"part": number, "parts": len(parts)}
        messages.append(
            Message(
                conversation_id=conv.id,
                channel_account_id=conv.channel_account_id,
                contact_id=conv.contact_id,
                direction=Direction.internal if private else Direction.outbound,
                sender_type=sender_type,
                operator_id=operator_id,
                # The files go with the first part, the text as their caption.
                kind="note" if private else (kind if first else "text"),
                text=None if first and files and not part else part,
                attachments=[attachments_service.descriptor(a) for a in files] if first else [],
                external_id=_part_key(external_id, number),
                delivery_state=None if private else DeliveryState.queued,
                meta=part_meta,
            )
        )
    msg = messages[0]
    try:
        async with session.begin_nested():
            session.add(msg)
            await session.flush()
    except IntegrityError:  # a concurrent retry of the same id won
        assert external_id is not None
        existing = await session.scalar(
            select(Message).where(
                Message.channel_account_id == conv.channel_account_id,
                Message.external_id == external_id,
            )
        )
        assert existing is not None
        return existing, False
    for later in messages[1:]:  # one by one: ids (and so the send order) follow the text
        session.add(later)
        await session.flush()
    await attachments_service.link_to_message(session, msg.id, files)
    if not private:
        values: dict[str, object] = {"last_activity_at": now}
        if conv.status in rules.REOPEN_ON_REPLY:
            values["status"] = rules.OPENED
        if sender_type == SenderType.operator:
            # A person answered: unread is cleared and the response clock stops. Bots,
            # surveys and notifications do not count as an answer.
            values["unread_count"] = 0
            values["response_due_at"] = None
        await session.execute(
            update(Conversation).where(Conversation.id == conv.id).values(**values)
        )
        if sender_type == SenderType.operator:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conv.id, Conversation.first_response_at.is_(None))
                .values(first_response_at=now)
            )
    # Handlers write the touchpoint (one for all parts) and, unless it is a note, each
    # part's outbox row: the dispatcher sends a conversation's rows in id order.
    for row in messages:
        await raise_event(
            session,
            MessageCreated(
                message_id=row.id,
                conversation_id=conv.id,
                contact_id=conv.contact_id,
                channel_id=conv.channel_account_id,
                channel_type=str(channel.type) if channel is not None else "",
                direction=row.direction.value,
                sender_type=sender_type.value,
                operator_id=operator_id,
                touch_kind="note" if private else str(touch_kind),
                chain=chain,
                step=step,
                order_id=order_id,
                first_part=row is msg,
            ),
        )
    return msg, True


async def queue_automated(
    session: AsyncSession,
    conv: Conversation,
    channel: ChannelAccount,
    text: str,
    meta: dict[str, Any],
    *,
    template: TemplateSend | None,
    external_id: str,
    chain: str | None = None,
    step: str | None = None,
    order_id: int | None = None,
) -> Message:
    """Queue a message the system sends on its own (a chain step, an automatic reply) through
    the outbox, once by external_id: as the channel's approved template where the caller
    found its reply window closed, else as text. Its touchpoint is a notification (app.
    touchpoints TouchKind): it is not an answer."""
    kind = "text"
    if template is not None:
        # With a template the reply window does not matter: no last inbound time needed.
        content = registry.get(channel.type).prepare_outgoing(channel, None, text, template)
        kind, meta = content.kind, {**meta, **content.meta}
    msg, _ = await queue_outgoing(
        session,
        conv,
        text=text,
        private=False,
        sender_type=SenderType.system,
        operator_id=None,
        external_id=external_id,
        kind=kind,
        meta=meta,
        touch_kind="notification",
        chain=chain,
        step=step,
        order_id=order_id,
    )
    return msg


async def send_as(
    session: AsyncSession,
    conv: Conversation,
    *,
    text: str,
    sender_type: SenderType,
    external_id: str | None,
    max_chars: int,
) -> tuple[Message, bool]:
    """A send to the client by someone who is no operator (an agent bot): the channel's
    rules apply as to a reply, and it goes out through the outbox like one."""
    _check_text(text, max_chars)
    content = await _outgoing_content(session, conv, text=text, template=None)
    return await queue_outgoing(
        session,
        conv,
        text=content.text,
        private=False,
        sender_type=sender_type,
        operator_id=None,
        external_id=external_id,
        kind=content.kind,
        meta=content.meta,
    )


def _split_for(channel: ChannelAccount, text: str) -> list[str]:
    """A text longer than the provider takes becomes several messages, each its own outbox
    row: written in one transaction, each part is sent once and in order, at the pace the
    dispatcher keeps for the chat. The rule itself is connectors/text.py's."""
    limit = getattr(get_connector(channel.type), "max_text_length", None)
    return split_text(text, limit) if limit else [text]


def _part_key(external_id: str | None, number: int) -> str | None:
    """The first part keeps the caller's idempotency key, so a retry finds the reply."""
    if external_id is None or number == 1:
        return external_id
    return f"{external_id}#part{number}"


def _check_text(text: str, max_chars: int) -> str:
    if not text.strip():
        raise Invalid("The text is empty", "empty_text")
    if len(text) > max_chars:
        raise Invalid(f"The text is over {max_chars} characters", "text_too_long")
    return text


def _caller(principal: Principal) -> str:
    """The namespace of a caller's idempotency keys. Operators and API keys are numbered
    separately, so the kind is part of it: API key 2 must never get operator 2's message."""
    return f"op{principal.id}" if principal.kind == "operator" else f"key{principal.id}"


async def _outgoing_content(
    session: AsyncSession, conv: Conversation, *, text: str | None, template: TemplateSend | None
) -> OutgoingContent:
    """What a send to the client puts in the outbox, by its channel's plugin: a refusal up
    front where the provider would refuse it anyway (WhatsApp outside its window)."""
    channel = await session.get(ChannelAccount, conv.channel_account_id)
    assert channel is not None
    plugin = registry.get(channel.type)
    identity = await session.get(ContactIdentity, conv.identity_id)
    if identity is not None:  # e.g. a VK user who denied the community's messages: a 409
        plugin.check_recipient(
            channel,
            Recipient(identity.external_id, identity.reachable, identity.unreachable_reason),
        )
    last_inbound = conv.last_inbound_at
    if last_inbound is None and plugin.capabilities.reply_window and identity is not None:
        # e.g. opened by an integration: the person may have written on this identity
        last_inbound = identity.last_inbound_at
    return plugin.prepare_outgoing(channel, last_inbound, text, template)


async def reply(
    session: AsyncSession,
    principal: Principal,
    conversation_id: int,
    *,
    text: str | None,
    private: bool,
    client_message_id: str | None,
    max_chars: int,
    template: TemplateSend | None = None,
    attachment_ids: list[str] | None = None,
) -> tuple[Message, bool]:
    if (template is None and not attachment_ids) or text is not None:
        _check_text(text or "", max_chars)
    conv = await get_conversation(session, principal, conversation_id)
    files = await usable_files(session, principal, attachment_ids or [])
    external_id = f"{_caller(principal)}/{client_message_id}" if client_message_id else None
    content = OutgoingContent(text or "")
    if not private:  # the channel's rules (a reply window, templates) apply to sends only
        content = await _outgoing_content(session, conv, text=text, template=template)
    return await queue_outgoing(
        session,
        conv,
        text=content.text,
        private=private,
        sender_type=SenderType.operator,
        operator_id=principal.operator_id,
        external_id=external_id,
        kind=content.kind,
        meta=content.meta,
        files=files,
    )


async def integration_send(
    session: AsyncSession,
    principal: Principal,
    *,
    idempotency_key: str,
    text: str | None,
    conversation_id: int | None,
    contact_id: int | None,
    channel_id: int | None,
    max_chars: int,
    template: TemplateSend | None = None,
    attachment_ids: list[str] | None = None,
) -> tuple[Message, bool]:
    if (template is None and not attachment_ids) or text is not None:
        _check_text(text or "", max_chars)
    if conversation_id is not None:
        conv = await get_conversation(session, principal, conversation_id)
    elif contact_id is not None and channel_id is not None:
        conv = await open_for_contact(session, contact_id, channel_id)
        if not can_see(principal, conv):  # another team's client: nothing is written
            raise Forbidden(
                "This conversation is assigned to someone else", "not_your_conversation"
            )
    else:
        raise Invalid("Give conversation_id, or contact_id and channel_id", "no_recipient")
    files = await usable_files(session, principal, attachment_ids or [])
    content = await _outgoing_content(session, conv, text=text, template=template)
    return await queue_outgoing(
        session,
        conv,
        text=content.text,
        private=False,
        sender_type=SenderType.integration,
        operator_id=None,
        external_id=f"{_caller(principal)}/send/{idempotency_key}",
        kind=content.kind,
        meta=content.meta,
        files=files,
    )


async def open_for_contact(session: AsyncSession, contact_id: int, channel_id: int) -> Conversation:
    identity = await session.scalar(
        select(ContactIdentity)
        .where(
            ContactIdentity.contact_id == contact_id,
            ContactIdentity.channel_account_id == channel_id,
        )
        .with_for_update()
    )
    if identity is None:
        raise NotFound("The contact has no identity on that channel", "not_reachable")
    conv = await session.scalar(
        select(Conversation).where(
            Conversation.contact_id == contact_id,
            Conversation.channel_account_id == channel_id,
            Conversation.status.in_(rules.ACTIVE_STATUSES),
        )
    )
    if conv is None:
        channel = await session.get(ChannelAccount, channel_id)
        conv = Conversation(
            contact_id=contact_id,
            channel_account_id=channel_id,
            identity_id=identity.id,
            team_id=channel.team_id if channel else None,  # as if the client had written
            status=rules.OPENED,
        )
        session.add(conv)
        await session.flush()
        await raise_event(
            session,
            ConversationCreated(
                conversation_id=conv.id,
                contact_id=contact_id,
                channel_id=channel_id,
                channel_type=str(channel.type) if channel else "",
                team_id=conv.team_id,
                opened_by="send",  # waits for the client's answer, unrouted
            ),
        )
    return conv


async def set_status(
    session: AsyncSession,
    principal: Principal,
    conversation_id: int,
    status: ConversationStatus,
    snoozed_until: datetime | None,
) -> Conversation:
    if status == rules.WITH_BOT:
        raise Invalid("Only a bot's channel puts a conversation with the bot", "invalid_status")
    conv = await get_conversation(session, principal, conversation_id, lock=True)
    if status == ConversationStatus.snoozed and snoozed_until is None:
        raise Invalid("Snoozing needs snoozed_until", "snooze_needs_time")
    previous = conv.status
    conv.status = status
    conv.snoozed_until = snoozed_until if status == ConversationStatus.snoozed else None
    conv.resolved_at = datetime.now(UTC) if status == rules.CLOSED else None
    if status == rules.CLOSED:
        conv.response_due_at = None
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "The client already has another active conversation on this channel",
            "active_conversation_exists",
        ) from exc
    await raise_event(
        session,
        ConversationStatusChanged(
            conversation_id=conv.id,
            previous=previous.value,
            status=status.value,
            by=principal.operator_id,
        ),
    )
    if status == rules.CLOSED and previous != rules.CLOSED:
        # Every path that resolves comes here: the handlers free the assignee's place
        # and ask for the rating (once).
        await raise_event(
            session,
            ConversationResolved(
                conversation_id=conv.id,
                assignee_id=conv.assignee_id,
                channel_id=conv.channel_account_id,
                by=principal.operator_id,
            ),
        )
    return conv


async def mark_read(session: AsyncSession, principal: Principal, conversation_id: int) -> None:
    conv = await get_conversation(session, principal, conversation_id)
    if conv.unread_count:
        conv.unread_count = 0
        await session.flush()
        await raise_event(
            session, ConversationRead(conversation_id=conv.id, by=principal.operator_id)
        )
