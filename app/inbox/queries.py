"""The inbox's reads: conversations and their messages as the API and the hub show them, and
the attachments a caller may download."""

import functools
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Select, and_, bindparam, func, or_, select, text, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments import service as attachments_service
from app.attachments.models import Attachment, MessageAttachment
from app.channels import registry
from app.channels.models import ChannelAccount
from app.contacts.models import Contact
from app.core.errors import Forbidden, Invalid, NotFound
from app.core.pagination import decode_cursor, encode_cursor
from app.inbox import rules
from app.inbox.models import (
    Conversation,
    ConversationStatus,
    DeliveryState,
    Direction,
    Message,
    SenderType,
)
from app.inbox.schemas import (
    ContactBrief,
    ConversationRead,
    LastMessage,
    MessageRead,
)
from app.inbox.visibility import can_see, visible_to
from app.labels import service as labels
from app.operators.service import Principal

VISITOR_VISIBLE_OUTBOUND = (DeliveryState.sent, DeliveryState.delivered, DeliveryState.read)


_LOCK_CLIENT = text(
    "SELECT 1 FROM contacts WHERE id = "
    "(SELECT contact_id FROM conversations WHERE id = :id) FOR UPDATE"
)


async def lock_client_of(session: AsyncSession, conversation_id: int) -> None:
    """Lock a conversation's client before the conversation: the order the ingest takes
    them in (identity, client, conversation). A write that holds a conversation and then
    routes it (which locks the client: it may become the operator's) would otherwise
    deadlock with the client's next message, and one of the two would get a 503."""
    await session.execute(_LOCK_CLIENT, {"id": conversation_id})


async def get_conversation(
    session: AsyncSession, principal: Principal, conversation_id: int, *, lock: bool = False
) -> Conversation:
    """lock: the conversation's row, its client's first (lock_client_of)."""
    q = select(Conversation).where(Conversation.id == conversation_id)
    if lock:
        await lock_client_of(session, conversation_id)
        q = q.with_for_update()
    conv = await session.scalar(q)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} not found")
    if not can_see(principal, conv):
        raise Forbidden(
            "This conversation is assigned to someone else or waits for another team",
            "not_your_conversation",
        )
    return conv


PREVIEW_CHARS = 140


def _conversation_rows() -> Select[Any]:
    # The last message in the same query (one index probe per row on
    # ix_messages_conversation_id_id), so a list page costs one round trip.
    last = (
        select(
            Message.sender_type,
            func.left(Message.text, PREVIEW_CHARS).label("preview"),
            Message.created_at,
        )
        .where(Message.conversation_id == Conversation.id, Message.deleted_at.is_(None))
        .order_by(Message.id.desc())
        .limit(1)
        .lateral("last_message")
    )
    return (
        select(
            Conversation,
            Contact.name,
            ChannelAccount.type,
            last.c.sender_type,
            last.c.preview,
            last.c.created_at,
            labels.names_column("conversation", Conversation.id),
        )
        .join(Contact, Contact.id == Conversation.contact_id)
        .join(ChannelAccount, ChannelAccount.id == Conversation.channel_account_id)
        .outerjoin(last, true())
    )


def to_conversation_read(
    conv: Conversation,
    contact_name: str | None,
    ctype: str,
    last_sender: SenderType | None = None,
    last_preview: str | None = None,
    last_at: datetime | None = None,
    label_names: list[str] | None = None,
) -> ConversationRead:
    waiting = None
    if (
        conv.last_inbound_at is not None
        and conv.status != rules.CLOSED
        and rules.awaiting_reply(conv)
    ):
        waiting = (datetime.now(UTC) - conv.last_inbound_at).total_seconds()
    # The channel's reply window (WhatsApp's 24 hours); none on channels without one, or
    # whose plugin this installation no longer has.
    plugin = registry.find(ctype)
    window = plugin.reply_window(conv.last_inbound_at) if plugin is not None else None
    return ConversationRead(
        id=conv.id,
        status=conv.status,
        channel_id=conv.channel_account_id,
        channel_type=ctype,
        contact=ContactBrief(id=conv.contact_id, name=contact_name),
        assignee_id=conv.assignee_id,
        team_id=conv.team_id,
        priority=conv.priority,
        unread_count=conv.unread_count,
        last_activity_at=conv.last_activity_at,
        last_inbound_at=conv.last_inbound_at,
        first_response_at=conv.first_response_at,
        snoozed_until=conv.snoozed_until,
        created_at=conv.created_at,
        slow_response=conv.slow_response,
        waiting_seconds=waiting,
        reply_window_expires_at=window.expires_at if window is not None else None,
        reply_window_open=window.open if window is not None else None,
        last_message=LastMessage(sender_type=last_sender, preview=last_preview, created_at=last_at)
        if last_at is not None
        else None,
        labels=label_names or [],
    )


async def list_conversations(
    session: AsyncSession,
    principal: Principal,
    *,
    status: ConversationStatus | None = None,
    assignee: str | None = None,
    channel_id: int | None = None,
    team_id: int | None = None,
    slow_response: bool | None = None,
    label: str | None = None,
    sort: str = "activity",
    cursor: str | None = None,
    limit: int = 25,
) -> tuple[list[ConversationRead], str | None]:
    q = _filtered(
        _conversation_rows(),
        principal,
        status=status,
        assignee=assignee,
        channel_id=channel_id,
        team_id=team_id,
        slow_response=slow_response,
        label=label,
    )
    if sort == "waiting":
        # The longest-waiting client first (by their last message); never written: last.
        key = func.coalesce(Conversation.last_inbound_at, NEVER)
        if cursor:
            ts, row_id = decode_cursor(cursor)
            q = q.where(tuple_(key, Conversation.id) > tuple_(ts, row_id))
        q = q.order_by(key.asc(), Conversation.id.asc()).limit(limit + 1)
    else:
        if cursor:
            ts, row_id = decode_cursor(cursor)
            q = q.where(tuple_(Conversation.last_activity_at, Conversation.id) < tuple_(ts, row_id))
        q = q.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        q = q.limit(limit + 1)
    rows = (await session.execute(q)).all()
    items = [to_conversation_read(*r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        at = last.last_activity_at if sort != "waiting" else (last.last_inbound_at or NEVER)
        next_cursor = encode_cursor(at, last.id)
    return items, next_cursor


NEVER = datetime(9999, 12, 31, tzinfo=UTC)  # sorts after every real time


def _filtered(
    q: Select[Any],
    principal: Principal,
    *,
    status: ConversationStatus | None = None,
    assignee: str | None = None,
    channel_id: int | None = None,
    team_id: int | None = None,
    slow_response: bool | None = None,
    label: str | None = None,
) -> Select[Any]:
    q = q.where(*visible_to(principal))
    if status is not None:
        q = q.where(Conversation.status == status)
    if assignee == "me":
        q = q.where(Conversation.assignee_id == principal.operator_id)
    elif assignee in ("none", "unassigned"):
        q = q.where(Conversation.assignee_id.is_(None))
        if status is None:  # the queue: a bot's conversations are not waiting for a person
            q = q.where(Conversation.status != rules.WITH_BOT)
    elif assignee is not None:
        try:
            q = q.where(Conversation.assignee_id == int(assignee))
        except ValueError as exc:
            raise Invalid("assignee is an operator id, 'me' or 'none'", "invalid_filter") from exc
    if channel_id is not None:
        q = q.where(Conversation.channel_account_id == channel_id)
    if team_id is not None:
        q = q.where(Conversation.team_id == team_id)
    if slow_response is not None:
        q = q.where(Conversation.slow_response.is_(slow_response))
    if label:
        q = q.where(labels.carries("conversation", Conversation.id, label))
    return q


async def count_conversations(
    session: AsyncSession,
    principal: Principal,
    *,
    channel_id: int | None = None,
    team_id: int | None = None,
    label: str | None = None,
) -> dict[str, int]:
    """The console's tab counts, over what the caller sees (and the filters in force)."""
    active = Conversation.status != rules.CLOSED
    mine = Conversation.assignee_id == principal.operator_id
    unassigned = Conversation.assignee_id.is_(None) & (Conversation.status != rules.WITH_BOT)
    counts = select(
        func.count().filter(active & mine),
        func.count().filter(active & unassigned),
        func.count(),
        func.count().filter(Conversation.status == rules.CLOSED),
        func.count().filter(Conversation.status == ConversationStatus.snoozed),
        func.count().filter(active & mine & (Conversation.unread_count > 0)),
        func.count().filter(Conversation.status == rules.WITH_BOT),
    ).select_from(Conversation)
    q = _filtered(
        cast(Select[Any], counts),
        principal,
        channel_id=channel_id,
        team_id=team_id,
        label=label,
    )
    row = (await session.execute(q)).one()
    return dict(
        zip(("mine", "queue", "all", "resolved", "snoozed", "mine_unread", "bot"), row, strict=True)
    )


async def read_conversation(session: AsyncSession, conversation_id: int) -> ConversationRead | None:
    row = (
        await session.execute(_conversation_rows().where(Conversation.id == conversation_id))
    ).first()
    return to_conversation_read(*row) if row else None


def to_message_read(m: Message) -> MessageRead:
    # Connectors put these in the message's meta under neutral keys.
    author = m.meta.get("author")
    location = m.meta.get("location")
    subject, full_text = m.meta.get("subject"), m.meta.get("full_text")
    return MessageRead(
        id=m.id,
        conversation_id=m.conversation_id,
        direction=m.direction,
        sender_type=m.sender_type,
        operator_id=m.operator_id,
        kind=m.kind,
        text=m.text,
        attachments=[
            attachments_service.read_of(a, f"/api/v1/messages/{m.id}/attachments/{i}")
            for i, a in enumerate(m.attachments)
        ],
        reply_to_id=m.reply_to_id,
        delivery_state=m.delivery_state,
        failure_reason=m.failure_reason,
        created_at=m.created_at,
        sent_at=m.sent_at,
        edited_at=m.edited_at,
        deleted_at=m.deleted_at,
        private=m.direction == Direction.internal,
        sender_name=author.get("name") if isinstance(author, dict) else None,
        contact_id=m.contact_id if m.direction == Direction.inbound else None,
        location=location if isinstance(location, dict) else None,
        subject=subject if isinstance(subject, str) else None,
        original_text=full_text if isinstance(full_text, str) and full_text != m.text else None,
    )


async def list_messages(
    session: AsyncSession,
    conversation_ids: list[int] | int,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
    visitor_view: bool = False,
) -> tuple[list[Message], str | None, str | None]:
    """Messages in id order, with (newest cursor, oldest cursor). after= pages forward;
    before= (or neither) pages backward from the newest."""
    ids = [conversation_ids] if isinstance(conversation_ids, int) else conversation_ids
    q = select(Message).where(Message.conversation_id.in_(ids))
    if visitor_view:
        q = q.where(
            or_(
                Message.direction == Direction.inbound,
                and_(
                    Message.direction == Direction.outbound,
                    Message.delivery_state.in_(VISITOR_VISIBLE_OUTBOUND),
                ),
            )
        )
    if after is not None:
        q = q.where(Message.id > after).order_by(Message.id.asc()).limit(limit + 1)
        rows = list((await session.scalars(q)).all())
        more = len(rows) > limit
        rows = rows[:limit]
    else:
        if before is not None:
            q = q.where(Message.id < before)
        q = q.order_by(Message.id.desc()).limit(limit + 1)
        rows = list((await session.scalars(q)).all())
        more = len(rows) > limit
        rows = list(reversed(rows[:limit]))
    newest = str(rows[-1].id) if rows else (str(after) if after is not None else None)
    oldest = str(rows[0].id) if rows and (more or after is not None) else None
    if after is None and not more:
        oldest = None
    return rows, newest, oldest


async def usable_files(
    session: AsyncSession, principal: Principal, attachment_ids: list[str]
) -> list[Attachment]:
    """The uploads a reply or send names, in order. Each must be one the caller may see
    (attachment_for's rule); any other is refused as unknown, so an id reveals nothing."""
    found = await attachments_service.by_ids(session, attachment_ids)
    files = []
    for attachment_id in attachment_ids:
        attachment = found.get(attachment_id)
        if attachment is None or not await _may_see(session, principal, attachment):
            raise Invalid(f"Unknown attachment {attachment_id!r}", "unknown_attachment")
        files.append(attachment)
    return files


async def _may_see(session: AsyncSession, principal: Principal, attachment: Attachment) -> bool:
    if principal.sees_everything or attachments_service.uploaded_by(attachment, principal):
        return True
    used_where_visible = (
        select(MessageAttachment.message_id)
        .join(Message, Message.id == MessageAttachment.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(MessageAttachment.attachment_id == attachment.id, *visible_to(principal))
        .limit(1)
    )
    return (await session.scalar(used_where_visible)) is not None


async def attachment_for(
    session: AsyncSession, principal: Principal, attachment_id: str
) -> Attachment:
    """An upload the caller may download: their own, or one a message carries in a
    conversation they see. Anything else is 404, as if it did not exist."""
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None or not await _may_see(session, principal, attachment):
        raise NotFound("No such attachment", "unknown_attachment")
    return attachment


# Built once: every live fan-out pass of every worker reads by ids, and building these
# statements anew (with the lateral subquery) was about a third of that read's CPU.
@functools.cache
def _messages_by_ids() -> Select[Message]:
    return select(Message).where(Message.id.in_(bindparam("ids", expanding=True)))


@functools.cache
def _conversations_by_ids() -> Select[Any]:
    return _conversation_rows().where(Conversation.id.in_(bindparam("ids", expanding=True)))


async def messages_by_ids(session: AsyncSession, ids: list[int]) -> list[Message]:
    if not ids:
        return []
    return list((await session.scalars(_messages_by_ids(), {"ids": ids})).all())


async def conversations_by_ids(
    session: AsyncSession, ids: list[int]
) -> dict[int, ConversationRead]:
    if not ids:
        return {}
    rows = (await session.execute(_conversations_by_ids(), {"ids": ids})).all()
    return {r[0].id: to_conversation_read(*r) for r in rows}


async def attachment_of(
    session: AsyncSession, principal: Principal, message_id: int, index: int
) -> tuple[ChannelAccount, dict[str, Any]]:
    """The channel and attachment descriptor of a message the caller may see."""
    msg = await session.get(Message, message_id)
    if msg is None:
        raise NotFound(f"Message {message_id} not found")
    await get_conversation(session, principal, msg.conversation_id)
    if not 0 <= index < len(msg.attachments):
        raise NotFound(f"Message {message_id} has no attachment {index}")
    channel = await session.get(ChannelAccount, msg.channel_account_id)
    assert channel is not None
    return channel, msg.attachments[index]
