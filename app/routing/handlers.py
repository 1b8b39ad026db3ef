"""Routing's reactions to domain events (connected in app/handlers.py)."""

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


async def route_new_conversation(ctx: AppContext, ev: ConversationRoutingDeferred) -> None:
    """A client wrote and the ingest committed the conversation queued, because every
    operator with room was being claimed: it goes to an operator (waiting for the best of
    them), or keeps waiting, in a transaction of its own. Should this never run (the
    process died in between), the queue's drain hands it out (app/routing/tasks.py)."""
    async with ctx.sessions() as session:
        # The routing is one statement that writes everything it changes (the assignment,
        # its touch, its event) and no handler writes after it, so it runs as its own
        # transaction: no BEGIN and COMMIT round trips.
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        await service.route(session, ev.conversation_id, only_waiting=True)
        await commit_then_follow_up(session, ctx)  # publishes its frames


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
