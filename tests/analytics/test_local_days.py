"""Issue 17 (analytics): reports read days in a time zone (a from/to without a zone is local
there) and series come in day, week or month buckets of that zone."""

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.analytics.history import History
from tests.conftest import Running
from tests.helpers import auth


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


def utc(moment: str) -> datetime:
    return datetime.fromisoformat(moment).replace(tzinfo=UTC)


# March 2026 in Moscow (UTC+3, no daylight saving): local midnight is 21:00 UTC the day before.
MARCH = {"from": "2026-03-01T00:00:00", "to": "2026-04-01T00:00:00"}


async def load(run: Running, token: str, **params: Any) -> dict[str, Any]:
    r = await run.client.get(
        "/api/v1/analytics/inbound-load", params={**MARCH, **params}, headers=auth(token)
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def series(data: dict[str, Any]) -> dict[str, int]:
    [manager] = data["managers"]
    return {d["day"]: d["count"] for d in manager["days"]}


async def test_inbound_load_in_local_weeks_and_months(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = History(session)
        anna = await h.operator("Anna")
        c = await h.contact(anna)
        for at in [
            "2026-02-28T20:59",  # Moscow 02-28 23:59: before March there
            "2026-02-28T21:30",  # Moscow 03-01 00:30, a Sunday (week of Mon 02-23)
            "2026-03-08T20:59",  # Moscow 03-08 23:59, Sunday: week of 03-02
            "2026-03-08T21:00",  # Moscow 03-09 00:00, Monday: week of 03-09
            "2026-03-09T10:00",  # Moscow 03-09 13:00
            "2026-03-31T20:59",  # Moscow 03-31 23:59: still March
            "2026-03-31T21:00",  # Moscow 04-01 00:00: past `to`
        ]:
            await h.touch(c, utc(at), direction="inbound", operator=anna)
        await session.commit()

    days = await load(run, admin, timezone="Europe/Moscow")
    assert days["timezone"] == "Europe/Moscow" and days["bucket"] == "day"
    assert days["range"] == {
        "start": "2026-03-01T00:00:00+03:00",
        "end": "2026-04-01T00:00:00+03:00",
        "timezone": "Europe/Moscow",
    }
    assert series(days) == {
        "2026-03-01": 1,
        "2026-03-08": 1,
        "2026-03-09": 2,
        "2026-03-31": 1,
    }
    weeks = await load(run, admin, timezone="Europe/Moscow", bucket="week")
    assert series(weeks) == {"2026-02-23": 1, "2026-03-02": 1, "2026-03-09": 2, "2026-03-30": 1}
    assert weeks["total"] == 5
    months = await load(run, admin, timezone="Europe/Moscow", bucket="month")
    assert series(months) == {"2026-03-01": 5}

    # In UTC the same from/to are three hours later, and so are the days.
    utc_days = await load(run, admin, timezone="UTC")
    assert series(utc_days) == {
        "2026-03-08": 2,
        "2026-03-09": 1,
        "2026-03-31": 2,
    }
    utc_months = await load(run, admin, timezone="UTC", bucket="month")
    assert series(utc_months) == {"2026-03-01": 5}

    r = await run.client.get(
        "/api/v1/analytics/inbound-load", params={"bucket": "year"}, headers=auth(admin)
    )
    assert r.status_code == 422


async def test_every_report_reads_from_to_in_the_zone(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = History(session)
        anna = await h.operator("Anna")
        # Created 03-01 01:00 in Moscow (02-28 22:00 UTC), converted 03-05.
        await h.contact(anna, "customer", utc("2026-02-28T22:00"), converted=utc("2026-03-05"))
        await h.contact(anna, "lead", utc("2026-03-10T12:00"))
        await session.commit()

    async def cr(zone: str) -> dict[str, Any]:
        r = await run.client.get(
            "/api/v1/analytics/rates", params={**MARCH, "timezone": zone}, headers=auth(admin)
        )
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        assert data["range"]["timezone"] == zone
        return dict(data["cr"])

    assert await cr("Europe/Moscow") == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert await cr("UTC") == {"numerator": 0, "denominator": 1, "rate": 0.0}
    for name in ("touches-per-client", "reactions", "dropped-leads", "response-times"):
        r = await run.client.get(
            f"/api/v1/analytics/{name}",
            params={**MARCH, "timezone": "Europe/Moscow"},
            headers=auth(admin),
        )
        assert r.status_code == 200, r.text
        assert r.json()["range"]["start"] == "2026-03-01T00:00:00+03:00"
        r = await run.client.get(
            f"/api/v1/analytics/{name}", params={"timezone": "Nowhere/X"}, headers=auth(admin)
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_timezone"
