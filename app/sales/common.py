"""What the head of sales' reports share: the week a report is about (in the report's zone)
and the managers in the caller's scope. Manager filters and names come from app/analytics,
so "which manager" means the same in every report."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.service import Filters, managed_by
from app.contacts.sql import in_live_base
from app.operators.models import Operator

# A client in a manager's live base: owned and not lost (the one rule, app/contacts/sql.py;
# routing's base limit and the cadence count the same clients).
LIVE = in_live_base()


@dataclass(frozen=True)
class Week:
    monday: date
    start: datetime
    end: datetime


def week_of(day: date, zone: str) -> Week:
    """The Monday-to-Sunday week holding `day`, as local midnights in `zone`."""
    monday = day - timedelta(days=day.weekday())
    tz = ZoneInfo(zone)
    start = datetime.combine(monday, time(), tz)
    return Week(monday, start, datetime.combine(monday + timedelta(days=7), time(), tz))


def week_filters(week: Week, operator_id: int | None, team_id: int | None, zone: str) -> Filters:
    return Filters(week.start, week.end, operator_id=operator_id, team_id=team_id, zone=zone)


async def managers(session: AsyncSession, f: Filters) -> list[tuple[int, str]]:
    """The active operators a report lists (all, one team's, or one), by name."""
    rows = await session.execute(
        select(Operator.id, Operator.name)
        .where(Operator.is_active, *managed_by(Operator.id, f))
        .order_by(Operator.name, Operator.id)
    )
    return [(r.id, r.name) for r in rows]
