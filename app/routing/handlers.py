"""Routing's reactions to domain events (connected in app/handlers.py)."""

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.context import AppContext
from app.events.dispatch import commit_then_follow_up
from app.events.types import (
    ConversationResolved,
    ConversationRoutingDeferred,
    OperatorAvailabilityChanged,
)
from app.operators.models import Presence
from app.routing import presence, service

# The pauses between the tries that do not wait (seconds); then one try waits. Waiting at
# once queued every deferred routing on the best-ranked busy operator's row while the other
# operators' rows came free a commit later, and a waiting routing holds a pooled
# connection, which the shedding counts.
_PAUSES = (0.002, 0.005, 0.01, 0.02)


async def route_new_conversation(ctx: AppContext, ev: ConversationRoutingDeferred) -> None:
    """A client wrote and the ingest committed the conversation queued, because every
    operator with room was being claimed: it goes to whichever of them is free first (a few
    short tries), then to the best of them, waiting for their row, or keeps waiting in the
    queue. Should this never run (the process died in between), the queue's drain hands it
    out (app/routing/tasks.py)."""
    for pause in _PAUSES:
        if await _route_once(ctx, ev.conversation_id, wait=False):
            return
        await asyncio.sleep(pause)
    await _route_once(ctx, ev.conversation_id, wait=True)


async def _route_once(ctx: AppContext, conversation_id: int, *, wait: bool) -> bool:
    """One try in a transaction of its own; False when it did not wait and every operator
    with room was being claimed (nothing written, and the connection goes back)."""
    async with ctx.sessions() as session:
        # The routing is one statement that writes everything it changes (the assignment,
        # its touch, its event) and no handler writes after it, so it runs as its own
        # transaction: no BEGIN and COMMIT round trips.
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        if wait:
            await service.route(session, conversation_id, only_waiting=True)
        elif not await service.route_if_one_is_free(session, conversation_id):
            return False
        await commit_then_follow_up(session, ctx)  # publishes its frames
        return True


async def drain_assignee(session: AsyncSession, ev: ConversationResolved) -> None:
    """Resolving frees a place: the assignee takes the next one waiting."""
    if ev.assignee_id is not None:
        await service.drain(session, ev.assignee_id)


async def after_availability_change(ctx: AppContext, ev: OperatorAvailabilityChanged) -> None:
    """After the change committed (the follow-up never holds the operator's row while it
    waits for conversation rows): coming online or getting room hands out the queue,
    going offline releases what the team says to release."""
    if ev.presence_from is not None and ev.presence_to is not None:
        before, after = Presence(ev.presence_from), Presence(ev.presence_to)
        if before != after:
            await presence.after_change(ctx.sessions, ev.operator_id, before, after)
            return
    if (
        ev.capacity_from is not None
        and ev.capacity_to is not None
        and ev.capacity_to > ev.capacity_from
    ):
        await presence.capacity_freed(ctx.sessions, ev.operator_id)
