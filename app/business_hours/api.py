"""Business hours per team and automatic-reply texts per channel: admins write (audited),
the team's members (and anyone who sees the channel) read."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.audit import service as audit
from app.business_hours import store
from app.business_hours.schemas import (
    AutoRepliesRead,
    AutoRepliesWrite,
    BusinessHoursRead,
    BusinessHoursWrite,
)
from app.channels.models import ChannelAccount
from app.core.deps import Ctx, Session, client_ip
from app.core.errors import NotFound
from app.operators import scopes, visibility
from app.operators.auth import require
from app.operators.models import Team
from app.operators.service import Principal

router = APIRouter(prefix="/api/v1", tags=["business-hours"])


async def _team(session: Session, team_id: int, *, lock: bool = False) -> Team:
    team = await session.get(Team, team_id, with_for_update=lock)
    if team is None:
        raise NotFound(f"Team {team_id} not found")
    return team


@router.get("/teams/{team_id}/business-hours", response_model=BusinessHoursRead)
async def get_business_hours(
    team_id: int,
    principal: Annotated[Principal, Depends(require(scopes.OPERATORS_READ))],
    session: Session,
    ctx: Ctx,
) -> BusinessHoursRead:
    await visibility.require(session, principal, Team, team_id)
    return await store.read_hours(
        session, await _team(session, team_id), ctx.settings.default_timezone
    )


@router.put("/teams/{team_id}/business-hours", response_model=BusinessHoursRead)
async def put_business_hours(
    team_id: int,
    body: BusinessHoursWrite,
    principal: Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))],
    request: Request,
    session: Session,
    ctx: Ctx,
) -> BusinessHoursRead:
    team = await _team(session, team_id, lock=True)  # one writer at a time per team
    await store.replace_hours(session, team_id, body)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="team.business_hours",
        target_type="team",
        target_id=team_id,
        ip=client_ip(request),
        details=body.model_dump(mode="json"),
    )
    await session.commit()
    return await store.read_hours(session, team, ctx.settings.default_timezone)


async def _channel(session: Session, channel_id: int) -> ChannelAccount:
    channel = await session.get(ChannelAccount, channel_id, with_for_update=True)
    if channel is None:
        raise NotFound(f"Channel {channel_id} not found")
    return channel


@router.get("/channels/{channel_id}/auto-replies", response_model=AutoRepliesRead)
async def get_auto_replies(
    channel_id: int,
    principal: Annotated[Principal, Depends(require(scopes.CHANNELS_READ))],
    session: Session,
) -> AutoRepliesRead:
    await visibility.require(session, principal, ChannelAccount, channel_id)
    return await store.read_texts(session, channel_id)


@router.put("/channels/{channel_id}/auto-replies", response_model=AutoRepliesRead)
async def put_auto_replies(
    channel_id: int,
    body: AutoRepliesWrite,
    principal: Annotated[Principal, Depends(require(scopes.CHANNELS_WRITE))],
    request: Request,
    session: Session,
) -> AutoRepliesRead:
    await _channel(session, channel_id)
    await store.replace_texts(session, channel_id, body)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="channel.auto_replies",
        target_type="channel",
        target_id=channel_id,
        ip=client_ip(request),
        details=body.model_dump(mode="json"),
    )
    await session.commit()
    return await store.read_texts(session, channel_id)
