"""Local days: the one place that turns a stored moment (timestamptz) into a manager's
calendar day, week or month. PostgreSQL does it (AT TIME ZONE, then date_trunc), so a
Moscow day runs 21:00-21:00 UTC and daylight-saving changes are the server's tz data."""

import enum
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Date, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.core.errors import Invalid


class Bucket(enum.StrEnum):
    day = "day"
    week = "week"  # ISO weeks: Monday to Sunday
    month = "month"


def check_zone(name: str) -> str:
    """An IANA zone name (Europe/Moscow, UTC), else 422 invalid_timezone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid(f"Unknown time zone {name!r} (an IANA name)", "invalid_timezone") from exc
    return name


def days_before(moment: datetime, days: int) -> datetime:
    """The default start of a report window; a given end too early for it is bad input."""
    try:
        return moment - timedelta(days=days)
    except OverflowError:
        raise Invalid("The date is too early for a report window", "date_out_of_range") from None


def aware(moment: datetime, zone: str) -> datetime:
    """A moment without a zone is read in `zone`."""
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


def local_bucket(moment: Any, zone: str, bucket: Bucket = Bucket.day) -> ColumnElement[date]:
    """The first local day of the day/week/month that `moment` (a timestamptz) falls in."""
    return cast(func.date_trunc(bucket.value, func.timezone(zone, moment)), Date)


async def local_today(session: AsyncSession, zone: str) -> date:
    today: date = (await session.execute(select(local_bucket(func.now(), zone)))).scalar_one()
    return today
