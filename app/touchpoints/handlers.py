"""Touchpoints written in reaction to domain events (connected in app/handlers.py): what
happened in a conversation, or to the client card, becomes a row of the client's history, in
the transaction that made it happen."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.contacts.models import Contact
from app.events.types import (
    ContactUpdated,
    ConversationQueueAlert,
    ConversationResponseMissed,
    ConversationStatusChanged,
    ConversationUnassigned,
    MessageCreated,
    MessageDeliveryFailed,
)
from app.inbox.models import Conversation
from app.touchpoints import service
from app.touchpoints.models import CLIENT_TOUCH_KINDS, Reaction, TouchKind, Touchpoint


async def _conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    conv = await session.get(Conversation, conversation_id)  # usually in the identity map
    assert conv is not None
    return conv


async def record_message(session: AsyncSession, ev: MessageCreated) -> None:
    """An outgoing message or a note (inbound ones are written by the ingest's SQL). A long
    text sent in parts is one touch."""
    if ev.direction == "inbound" or ev.touch_kind is None or not ev.first_part:
        return
    await service.record(
        session,
        contact_id=ev.contact_id,
        conversation_id=ev.conversation_id,
        channel=ev.channel_type,
        message_id=ev.message_id,
        operator_id=ev.operator_id,
        direction=ev.direction,
        kind=TouchKind(ev.touch_kind),
        chain=ev.chain,
        step=ev.step,
        order_id=ev.order_id,
    )


async def record_unassignment(session: AsyncSession, ev: ConversationUnassigned) -> None:
    await service.record_in_conversation(
        session,
        await _conversation(session, ev.conversation_id),
        operator_id=ev.previous_assignee_id,
        direction="internal",
        kind=TouchKind.assignment,
        meta={
            "from": ev.previous_assignee_id,
            "to": None,
            "reason": "unassigned",
            "by": ev.by,
            "note": ev.note,
        },
    )


async def record_missed_response(session: AsyncSession, ev: ConversationResponseMissed) -> None:
    await service.record_in_conversation(
        session,
        await _conversation(session, ev.conversation_id),
        operator_id=ev.missed_by,
        direction="internal",
        kind=TouchKind.assignment,
        reaction=Reaction.negative,
        meta={"missed_response_target": ev.response_target_seconds, "by": ev.missed_by},
    )


async def record_status_change(session: AsyncSession, ev: ConversationStatusChanged) -> None:
    await service.record_in_conversation(
        session,
        await _conversation(session, ev.conversation_id),
        operator_id=ev.by,
        direction="internal",
        kind=TouchKind.status_change,
        meta={"from": ev.previous, "to": ev.status},
    )


async def record_queue_alert(session: AsyncSession, ev: ConversationQueueAlert) -> None:
    await service.record(
        session,
        contact_id=ev.contact_id,
        conversation_id=ev.conversation_id,
        channel="internal",
        direction="internal",
        kind=TouchKind.alert,
        reaction=Reaction.negative,
        meta={"alert": "waiting_in_queue", "queued_at": ev.queued_at, "team_id": ev.team_id},
    )


async def record_delivery_failure(session: AsyncSession, ev: MessageDeliveryFailed) -> None:
    """A message the client never got is a broken link: a negative touchpoint."""
    meta: dict[str, object] = {"reason": ev.reason}
    if ev.code is not None:
        meta["code"] = ev.code
    await service.record(
        session,
        contact_id=ev.contact_id,
        conversation_id=ev.conversation_id,
        message_id=ev.message_id,
        operator_id=ev.operator_id,
        channel=ev.channel_type or "internal",
        direction="outbound",
        kind=TouchKind.delivery_failure,
        reaction=Reaction.negative,
        meta=meta,
    )


async def client_touch_count(session: AsyncSession, contact_id: int) -> int:
    """How many times the client has been touched so far (the rule of seven's counter)."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Touchpoint)
            .where(Touchpoint.contact_id == contact_id, Touchpoint.kind.in_(CLIENT_TOUCH_KINDS))
        )
        or 0
    )


async def record_stage_change(session: AsyncSession, ev: ContactUpdated) -> None:
    """A stage change is a touch of the client's history; becoming a customer also records
    at which client touch it happened (once: converted_at stays the first time)."""
    if ev.stage_to is None:
        return
    contact = await session.get(Contact, ev.contact_id)  # in the identity map, locked
    assert contact is not None
    meta: dict[str, object] = {"from": ev.stage_from, "to": ev.stage_to}
    if ev.stage_to == "customer" and contact.converted_at is None:
        contact.converted_at = contact.stage_changed_at
        contact.conversion_touch = await client_touch_count(session, contact.id)
        meta["conversion_touch"] = contact.conversion_touch
    await service.record(
        session,
        contact_id=contact.id,
        operator_id=ev.by,
        channel="internal",
        direction="internal",
        kind=TouchKind.stage_change,
        meta=meta,
    )
