"""Whose clock a day is read on: a team's time zone, else the deployment's default."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.operators.models import Team, team_members


async def team_zone(session: AsyncSession, team_id: int | None, default: str) -> str:
    zone = (
        await session.scalar(select(Team.timezone).where(Team.id == team_id)) if team_id else None
    )
    return zone or default


async def manager_zone(session: AsyncSession, operator_id: int, default: str) -> str:
    """The zone of the manager's first team (by id) that sets one."""
    zone = await session.scalar(
        select(Team.timezone)
        .join(team_members, team_members.c.team_id == Team.id)
        .where(team_members.c.operator_id == operator_id, Team.timezone.is_not(None))
        .order_by(Team.id)
        .limit(1)
    )
    return zone or default
