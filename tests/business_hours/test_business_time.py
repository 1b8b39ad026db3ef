"""Business time (app/business_hours/sql, asked through app/business_hours/service.py):
open or closed across midnight, daylight-saving changes and holidays; open seconds; the
deadline counted in open time; the start of an off-hours period."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

from app.business_hours import service
from app.business_hours.models import BusinessHoliday, BusinessHours, BusinessInterval
from app.operators.models import Team
from tests.conftest import Running

MON, TUE, WED, THU, FRI, SAT, SUN = range(1, 8)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def make_team(
    run: Running,
    zone: str,
    intervals: list[tuple[int, int, int]],
    holidays: tuple[date, ...] = (),
    business_time_only: bool = False,
) -> int:
    async with run.ctx.sessions() as s:
        team = Team(name=f"T{zone}{len(intervals)}{len(holidays)}")
        s.add(team)
        await s.flush()
        s.add(BusinessHours(team_id=team.id, timezone=zone, business_time_only=business_time_only))
        await s.flush()
        if intervals:
            await s.execute(
                insert(BusinessInterval),
                [
                    {"team_id": team.id, "weekday": d, "start_minute": a, "end_minute": b}
                    for d, a, b in intervals
                ],
            )
        for day in holidays:
            s.add(BusinessHoliday(team_id=team.id, day=day, name="Holiday"))
        await s.commit()
        return team.id


WEEKDAYS_9_TO_18 = [(d, 9 * 60, 18 * 60) for d in (MON, TUE, WED, THU, FRI)]


async def test_a_team_without_a_schedule_is_always_open(run: Running) -> None:
    async with run.ctx.sessions() as s:
        assert await service.is_open(s, None, utc(2026, 12, 6, 3))
        team = Team(name="No schedule")
        s.add(team)
        await s.commit()
        assert await service.is_open(s, team.id, utc(2026, 12, 6, 3))
        start = utc(2026, 12, 6, 3)
        assert await service.business_seconds(s, team.id, start, start + timedelta(hours=2)) == 7200
        assert await service.closed_since(s, team.id, start) is None


async def test_open_and_closed_in_the_teams_zone_and_on_holidays(run: Running) -> None:
    # Moscow is UTC+3 all year: 9:00-18:00 local is 6:00-15:00 UTC.
    team = await make_team(run, "Europe/Moscow", WEEKDAYS_9_TO_18, holidays=(date(2026, 12, 8),))
    async with run.ctx.sessions() as s:
        assert await service.is_open(s, team, utc(2026, 12, 7, 6))  # Mon 9:00
        assert not await service.is_open(s, team, utc(2026, 12, 7, 5, 59))  # Mon 8:59
        assert not await service.is_open(s, team, utc(2026, 12, 7, 15))  # Mon 18:00: closed
        assert not await service.is_open(s, team, utc(2026, 12, 8, 10))  # Tue: a holiday
        assert await service.is_open(s, team, utc(2026, 12, 9, 10))  # Wed
        assert not await service.is_open(s, team, utc(2026, 12, 12, 10))  # Saturday


async def test_an_interval_to_midnight_meets_the_next_days(run: Running) -> None:
    # A night shift: Friday 20:00-24:00 and Saturday 0:00-4:00 (UTC).
    team = await make_team(run, "UTC", [(FRI, 20 * 60, 1440), (SAT, 0, 4 * 60)])
    async with run.ctx.sessions() as s:
        assert await service.is_open(s, team, utc(2026, 12, 11, 23, 59))
        assert await service.is_open(s, team, utc(2026, 12, 12, 0))
        assert await service.is_open(s, team, utc(2026, 12, 12, 3, 59))
        assert not await service.is_open(s, team, utc(2026, 12, 12, 4))
        seconds = await service.business_seconds(
            s, team, utc(2026, 12, 11, 22), utc(2026, 12, 12, 2)
        )
        assert seconds == 4 * 3600
        # The off-hours period after the shift began at its end, Saturday 4:00.
        assert await service.closed_since(s, team, utc(2026, 12, 13, 12)) == utc(2026, 12, 12, 4)


async def test_daylight_saving_changes_keep_the_local_hours(run: Running) -> None:
    # Berlin: CET (UTC+1) until 29 March 2026, 2:00 local; CEST (UTC+2) after.
    team = await make_team(run, "Europe/Berlin", [(d, 9 * 60, 17 * 60) for d in range(1, 8)])
    async with run.ctx.sessions() as s:
        assert await service.is_open(s, team, utc(2026, 3, 28, 8))  # Sat 9:00 CET
        assert not await service.is_open(s, team, utc(2026, 3, 29, 6, 30))  # Sun 8:30 CEST
        assert await service.is_open(s, team, utc(2026, 3, 29, 7))  # Sun 9:00 CEST
        assert not await service.is_open(s, team, utc(2026, 3, 29, 15))  # Sun 17:00 CEST
        # The night of the change is an hour shorter, and the open time is still 8 hours a day.
        seconds = await service.business_seconds(s, team, utc(2026, 3, 28, 0), utc(2026, 3, 30, 0))
        assert seconds == 2 * 8 * 3600
        # Back to CET on 25 October: 9:00 local is 8:00 UTC again.
        assert await service.is_open(s, team, utc(2026, 10, 25, 8))
        assert not await service.is_open(s, team, utc(2026, 10, 25, 7, 30))


async def test_the_deadline_counts_open_time_only(run: Running) -> None:
    team = await make_team(run, "Europe/Moscow", WEEKDAYS_9_TO_18, holidays=(date(2026, 12, 14),))
    async with run.ctx.sessions() as s:
        # Friday 17:50 local + 30 open minutes: 10 on Friday, then Monday is a holiday, so
        # 20 on Tuesday from 9:00.
        due = await service.due_at(s, team, utc(2026, 12, 11, 14, 50), 1800)
        assert due == utc(2026, 12, 15, 6, 20)
        # Within the day it is plain time.
        assert await service.due_at(s, team, utc(2026, 12, 9, 7), 600) == utc(2026, 12, 9, 7, 10)
        # And open seconds agree with it.
        assert await service.business_seconds(s, team, utc(2026, 12, 11, 14, 50), due) == 1800


async def test_a_schedule_without_hours_is_always_closed_but_deadlines_keep_plain_time(
    run: Running,
) -> None:
    team = await make_team(run, "UTC", [])
    async with run.ctx.sessions() as s:
        at = utc(2026, 12, 9, 12)
        assert not await service.is_open(s, team, at)
        assert await service.due_at(s, team, at, 60) == at + timedelta(seconds=60)
        assert await service.closed_since(s, team, at) == datetime(1970, 1, 1, tzinfo=UTC)
