from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import delete, insert

from app.audit import service as audit
from app.core.deps import Ctx, Session
from app.core.errors import Forbidden, Invalid, NotFound
from app.core.timezones import check_zone
from app.inbox import queries as inbox_queries
from app.inbox.schemas import AssignRequest, ConversationRead
from app.operators import scopes, visibility
from app.operators import service as operators_service
from app.operators.auth import require
from app.operators.models import Operator, Team, operator_channels
from app.operators.service import Principal
from app.routing import commands as routing_commands
from app.routing import presence as presence_service
from app.routing import service as routing_service
from app.routing.schemas import (
    OperatorChannels,
    OperatorLoad,
    PresenceUpdate,
    QueueItem,
    TeamRoutingRead,
    TeamRoutingUpdate,
)
from app.routing.service import Strategy

router = APIRouter(prefix="/api/v1", tags=["routing"])


async def _team_read(session: Session, team: Team) -> TeamRoutingRead:
    members = await operators_service.team_member_ids(session, team.id)
    return TeamRoutingRead(
        id=team.id,
        name=team.name,
        strategy=Strategy(team.strategy),
        response_target_seconds=team.response_target_seconds,
        max_reassignments=team.max_reassignments,
        queue_alert_seconds=team.queue_alert_seconds,
        release_on_offline=team.release_on_offline,
        lead_id=team.lead_id,
        member_ids=members,
        timezone=team.timezone,
    )


@router.get("/teams/{team_id}/routing", response_model=TeamRoutingRead)
async def get_team_routing(
    team_id: int,
    principal: Annotated[Principal, Depends(require(scopes.OPERATORS_READ))],
    session: Session,
) -> TeamRoutingRead:
    """A team's routing settings: its members and admins."""
    await visibility.require(session, principal, Team, team_id)
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFound(f"Team {team_id} not found")
    return await _team_read(session, team)


@router.patch("/teams/{team_id}", response_model=TeamRoutingRead)
async def update_team(
    team_id: int,
    body: TeamRoutingUpdate,
    principal: Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))],
    session: Session,
) -> TeamRoutingRead:
    team = await session.get(Team, team_id, with_for_update=True)
    if team is None:
        raise NotFound(f"Team {team_id} not found")
    changes = body.model_dump(exclude_unset=True)
    members = changes.pop("member_ids", None)
    lead_id = changes.get("lead_id")
    if lead_id is not None and await session.get(Operator, lead_id) is None:
        raise Invalid(f"Operator {changes['lead_id']} not found", "unknown_operator")
    if changes.get("timezone") is not None:
        check_zone(changes["timezone"])
    for key, value in changes.items():
        if value is not None or key in ("lead_id", "timezone"):
            setattr(team, key, value.value if isinstance(value, Strategy) else value)
    if members is not None:
        await operators_service.set_team_members(session, team_id, sorted(set(members)))
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="team.update",
        target_type="team",
        target_id=team_id,
        details=body.model_dump(mode="json", exclude_unset=True),
    )
    await session.commit()
    return await _team_read(session, team)


@router.put("/operators/{operator_id}/channels", response_model=OperatorChannels)
async def set_operator_channels(
    operator_id: int,
    body: OperatorChannels,
    principal: Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))],
    session: Session,
) -> OperatorChannels:
    await operators_service.get_operator(session, operator_id)
    await session.execute(
        delete(operator_channels).where(operator_channels.c.operator_id == operator_id)
    )
    ids = sorted(set(body.channel_ids))
    if ids:
        await session.execute(
            insert(operator_channels),
            [{"operator_id": operator_id, "channel_account_id": c} for c in ids],
        )
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="operator.channels",
        target_type="operator",
        target_id=operator_id,
        details={"channel_ids": ids},
    )
    await session.commit()
    return OperatorChannels(channel_ids=ids)


@router.post("/operators/{operator_id}/presence", response_model=PresenceUpdate)
async def set_presence(
    operator_id: int,
    body: PresenceUpdate,
    principal: Annotated[Principal, Depends(require(scopes.CONVERSATIONS_WRITE))],
    ctx: Ctx,
    session: Session,
) -> PresenceUpdate:
    """An operator sets their own presence; an admin anyone's."""
    if principal.operator_id != operator_id and not principal.is_admin:
        raise Forbidden("Only admins set another operator's presence", "not_yourself")
    await operators_service.get_operator(session, operator_id)
    await session.close()
    await presence_service.set_presence(ctx.sessions, operator_id, body.presence)
    return body


@router.get("/routing/queue", response_model=list[QueueItem])
async def get_queue(
    principal: Annotated[Principal, Depends(require(scopes.CONVERSATIONS_READ))],
    session: Session,
    team: int | None = None,
) -> list[QueueItem]:
    """The waiting conversations in hand-out order; an operator sees those of their teams and
    of no team."""
    now = datetime.now(UTC)
    return [
        QueueItem(
            position=pos,
            conversation_id=conv_id,
            queued_at=queued_at,
            waiting_seconds=(now - queued_at).total_seconds(),
            category=category,
        )
        for pos, conv_id, queued_at, category in await routing_service.queue(
            session, team, seen_by=principal
        )
    ]


@router.get("/routing/load", response_model=list[OperatorLoad])
async def get_load(
    _: Annotated[Principal, Depends(require(scopes.OPERATORS_READ))], session: Session
) -> list[OperatorLoad]:
    return [
        OperatorLoad(
            operator_id=op.id,
            name=op.name,
            presence=op.presence,
            open_conversations=load.open_count,
            max_open_conversations=load.max_open,
            base_size=load.base_size,
            max_base_size=load.max_base,
            last_assigned_at=load.last_assigned_at,
        )
        for op, load in await routing_service.all_loads(session)
    ]


@router.post("/conversations/{conversation_id}/assign", response_model=ConversationRead)
async def assign(
    conversation_id: int,
    body: AssignRequest,
    principal: Annotated[Principal, Depends(require(scopes.CONVERSATIONS_WRITE))],
    session: Session,
) -> ConversationRead:
    await routing_commands.assign(
        session, principal, conversation_id, body.assignee_id, body.team_id, body.note
    )
    await session.commit()
    read = await inbox_queries.read_conversation(session, conversation_id)
    assert read is not None
    return read
