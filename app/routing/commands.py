"""Routing's writes asked for by a person (or a bot): assign, transfer to a team, send back
to the queue, hand a bot's conversation to the people."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Invalid
from app.events.dispatch import raise_event
from app.events.types import ConversationStatusChanged, ConversationUpdated
from app.inbox import rules as inbox_rules
from app.inbox.models import Conversation
from app.inbox.queries import get_conversation, lock_client_of
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


async def handoff(
    session: AsyncSession, conversation_id: int, *, by: int | None = None
) -> tuple[Conversation, bool]:
    """A bot's conversation goes to the people: open, and routed like a new one. Once: the
    row is locked, and a conversation no longer with a bot (a second, concurrent handoff)
    is left as it is (False). The caller has checked that it may."""
    await lock_client_of(session, conversation_id)
    conv = await session.get(
        Conversation, conversation_id, with_for_update=True, populate_existing=True
    )
    assert conv is not None
    if conv.status != inbox_rules.WITH_BOT:
        return conv, False
    conv.status = inbox_rules.OPENED
    await session.flush()
    await raise_event(
        session,
        ConversationStatusChanged(
            conversation_id=conv.id,
            previous=inbox_rules.WITH_BOT.value,
            status=inbox_rules.OPENED.value,
            by=by,
        ),
    )
    await service.route(session, conv.id)
    return conv, True
