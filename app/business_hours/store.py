"""Reading and replacing a team's business hours and a channel's automatic-reply texts."""

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.business_hours import service
from app.business_hours.models import (
    AutoReplyKind,
    AutoReplyText,
    BusinessHoliday,
    BusinessHours,
    BusinessInterval,
)
from app.business_hours.schemas import (
    AutoRepliesRead,
    AutoRepliesWrite,
    BusinessHoursRead,
    BusinessHoursWrite,
    Holiday,
    Interval,
    clock,
    minutes,
)
from app.operators.models import Team


async def read_hours(session: AsyncSession, team: Team, default_zone: str) -> BusinessHoursRead:
    """No schedule: disabled, in the team's own zone (else the deployment's) for the form."""
    hours = await session.get(BusinessHours, team.id)
    intervals = (
        await session.scalars(
            select(BusinessInterval)
            .where(BusinessInterval.team_id == team.id)
            .order_by(BusinessInterval.weekday, BusinessInterval.start_minute)
        )
    ).all()
    holidays = (
        await session.scalars(
            select(BusinessHoliday)
            .where(BusinessHoliday.team_id == team.id)
            .order_by(BusinessHoliday.day)
        )
    ).all()
    return BusinessHoursRead(
        team_id=team.id,
        enabled=hours is not None,
        timezone=hours.timezone if hours else team.timezone or default_zone,
        business_time_only=hours.business_time_only if hours else False,
        schedule=[
            Interval(weekday=i.weekday, opens=clock(i.start_minute), closes=clock(i.end_minute))
            for i in intervals
        ],
        holidays=[Holiday(date=h.day, name=h.name) for h in holidays],
        open_now=await service.is_open(session, team.id, datetime.now(UTC)),
    )


async def replace_hours(session: AsyncSession, team_id: int, body: BusinessHoursWrite) -> None:
    """The whole schedule at once (the form saves it whole); disabled removes it."""
    await session.execute(delete(BusinessHours).where(BusinessHours.team_id == team_id))
    if not body.enabled:
        return
    session.add(
        BusinessHours(
            team_id=team_id,
            timezone=body.timezone,
            business_time_only=body.business_time_only,
            updated_at=datetime.now(UTC),
        )
    )
    await session.flush()
    if body.schedule:
        await session.execute(
            insert(BusinessInterval),
            [
                {
                    "team_id": team_id,
                    "weekday": i.weekday,
                    "start_minute": minutes(i.opens),
                    "end_minute": minutes(i.closes),
                }
                for i in body.schedule
            ],
        )
    if body.holidays:
        await session.execute(
            insert(BusinessHoliday),
            [{"team_id": team_id, "day": h.date, "name": h.name} for h in body.holidays],
        )


async def read_texts(session: AsyncSession, channel_id: int) -> AutoRepliesRead:
    rows = (
        await session.scalars(
            select(AutoReplyText).where(AutoReplyText.channel_account_id == channel_id)
        )
    ).all()
    by_kind: dict[str, dict[str, str]] = {k.value: {} for k in AutoReplyKind}
    for row in rows:
        by_kind[row.kind][row.language] = row.text
    return AutoRepliesRead(
        channel_id=channel_id,
        greeting=by_kind[AutoReplyKind.greeting],
        out_of_office=by_kind[AutoReplyKind.out_of_office],
    )


async def replace_texts(session: AsyncSession, channel_id: int, body: AutoRepliesWrite) -> None:
    await session.execute(
        delete(AutoReplyText).where(AutoReplyText.channel_account_id == channel_id)
    )
    rows = [
        {"channel_account_id": channel_id, "kind": kind.value, "language": lang, "text": text}
        for kind in AutoReplyKind
        for lang, text in getattr(body, kind.value).items()
    ]
    if rows:
        await session.execute(insert(AutoReplyText), rows)
