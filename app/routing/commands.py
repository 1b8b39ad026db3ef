"""Routing's writes asked for by a person: assign, transfer to a team, send back to the
queue."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Invalid
from app.events.dispatch import raise_event
from app.events.types import ConversationUpdated
from app.inbox.models import Conversation
from app.inbox.queries import get_conversation
from app.operators.models import Team
from app.operators.service import Principal
from app.routing import service


async def assign(
    session: AsyncSession,
    principal: Principal,
    conversation_id: int,
    assignee_id: int | None,
    team_id: int | None,
    note: str | None,
) -> Conversation:
    """Assign to a person, transfer to a team (routed within it), or send back to the queue.
    Every change is an assignment touchpoint and a real-time event; a new team is a
    conversation.updated of its own."""
    conv = await get_conversation(session, principal, conversation_id, lock=True)
    previous = conv.assignee_id
    if team_id is not None:
        if await session.get(Team, team_id) is None:
            raise Invalid(f"Team {team_id} not found", "unknown_team")
        if conv.team_id != team_id:
            previous_team = conv.team_id
            conv.team_id = team_id
            await session.flush()
            await raise_event(
                session,
                ConversationUpdated(
                    conversation_id=conv.id,
                    fields=("team_id",),
                    team_id=team_id,
                    previous_team_id=previous_team,
                    by=principal.operator_id,
                ),
            )
    if assignee_id is not None:
        await service.assign_manually(
            session, conv, assignee_id, by=principal.operator_id, note=note
        )
    elif team_id is not None:
        await service.route(session, conv.id, exclude=(previous,) if previous is not None else ())
        if previous is not None:
            await service.drain(session, previous)
    else:
        await service.unassign(session, conv, by=principal.operator_id, note=note)
        if previous is not None:
            await service.drain(session, previous)
    return conv
