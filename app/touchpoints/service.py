"""The touchpoint log: one row per interaction with a client."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.touchpoints.models import Reaction, TouchKind, Touchpoint

# DOMAIN.md: recurrence (one-off vs repeating) and attention span (short vs long) follow
# from the kind of touch. A chat is something the client returns to and stays in.
_SHAPE: dict[TouchKind, tuple[str, str]] = {
    TouchKind.message: ("repeating", "long"),
    TouchKind.note: ("one_off", "short"),
    TouchKind.notification: ("one_off", "short"),
    TouchKind.assignment: ("one_off", "short"),
    TouchKind.status_change: ("one_off", "short"),
    TouchKind.survey: ("one_off", "short"),
    TouchKind.call: ("one_off", "long"),
    TouchKind.meeting: ("one_off", "long"),
    TouchKind.button: ("one_off", "short"),
    TouchKind.delivery_failure: ("one_off", "short"),
}


def shape_of(kind: TouchKind) -> tuple[str, str]:
    return _SHAPE[kind]


async def record(
    session: AsyncSession,
    *,
    contact_id: int,
    channel: str,
    direction: str,
    kind: TouchKind,
    conversation_id: int | None = None,
    message_id: int | None = None,
    operator_id: int | None = None,
    reaction: Reaction = Reaction.unknown,
    chain: str | None = None,
    step: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Touchpoint:
    recurrence, attention = shape_of(kind)
    tp = Touchpoint(
        contact_id=contact_id,
        conversation_id=conversation_id,
        message_id=message_id,
        operator_id=operator_id,
        channel=channel,
        direction=direction,
        kind=kind,
        reaction=reaction,
        chain=chain,
        step=step,
        recurrence=recurrence,
        attention=attention,
        meta=meta or {},
    )
    session.add(tp)
    await session.flush()
    return tp


async def list_touchpoints(
    session: AsyncSession,
    *,
    contact_id: int | None = None,
    conversation_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Touchpoint]:
    q = select(Touchpoint).order_by(Touchpoint.id.desc()).limit(limit)
    if contact_id is not None:
        q = q.where(Touchpoint.contact_id == contact_id)
    if conversation_id is not None:
        q = q.where(Touchpoint.conversation_id == conversation_id)
    if before_id is not None:
        q = q.where(Touchpoint.id < before_id)
    return list((await session.scalars(q)).all())
