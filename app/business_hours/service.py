"""Business time asked of the SQL functions that implement it (app/business_hours/sql):
whether a team is open at an instant, the open seconds between two, and when an off-hours
period began. A team id of None, or a team without a schedule, is always open."""

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_OPEN = text("SELECT chatcentre_business_open(:team_id, :at)")
_SECONDS = text("SELECT chatcentre_business_seconds(:team_id, :start, :end)")
_DUE_AT = text("SELECT chatcentre_business_due_at(:team_id, :start, :seconds)")
_CLOSED_SINCE = text("SELECT chatcentre_business_closed_since(:team_id, :at)")


async def is_open(session: AsyncSession, team_id: int | None, at: datetime) -> bool:
    """The automation rules' "business hours" condition, and the out-of-office reply's."""
    return bool(await session.scalar(_OPEN, {"team_id": team_id, "at": at}))


async def business_seconds(
    session: AsyncSession, team_id: int | None, start: datetime, end: datetime
) -> float:
    seconds = await session.scalar(_SECONDS, {"team_id": team_id, "start": start, "end": end})
    return float(seconds or 0)


async def due_at(
    session: AsyncSession, team_id: int | None, start: datetime, seconds: float
) -> datetime:
    """`seconds` of open time after `start` (a response target counted in business time)."""
    due: datetime = await session.scalar(
        _DUE_AT, {"team_id": team_id, "start": start, "seconds": seconds}
    )
    return due


async def closed_since(session: AsyncSession, team_id: int | None, at: datetime) -> datetime | None:
    """The start of the off-hours period `at` is in; None while the team is open."""
    since: datetime | None = await session.scalar(_CLOSED_SINCE, {"team_id": team_id, "at": at})
    return since
