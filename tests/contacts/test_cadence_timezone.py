"""Issue 17 (contacts): cadence days are the manager's local days. A touch at 01:30 in Moscow
(22:30 UTC the day before) belongs to the Moscow day: the team's time zone, or `timezone`."""

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import auth


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def plan(run: Running, token: str, **params: Any) -> dict[str, Any]:
    r = await run.client.get(
        "/api/v1/cadence", params={"on": "2026-03-10", **params}, headers=auth(token)
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def names(items: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return sorted((d["name"], d["days_overdue"]) for d in items)


async def test_due_today_is_the_managers_local_day(run: Running) -> None:
    admin = await run.admin_token()
    me = (await run.client.get("/api/v1/operators/me", headers=auth(admin))).json()["id"]
    # Category A: a touch every 7 days. Last client touch, in UTC (Moscow is UTC+3):
    touches = {
        "night": "2026-03-02T22:30",  # Moscow 03-03 01:30: due 03-10 (UTC: 03-09)
        "evening": "2026-03-03T20:00",  # Moscow 03-03 23:00: due 03-10 (UTC: 03-10)
        "past-midnight": "2026-03-03T21:30",  # Moscow 03-04 00:30: due 03-11 (UTC: 03-10)
    }
    async with run.ctx.sessions() as s:
        for name, at in touches.items():
            cid = await s.scalar(
                text(
                    "INSERT INTO contacts (name, category, owner_id, created_at) "
                    "VALUES (:n, 'A', :o, '2026-01-01T00:00Z') RETURNING id"
                ),
                {"n": name, "o": me},
            )
            await s.execute(
                text(
                    "INSERT INTO touchpoints (contact_id, channel, direction, kind, occurred_at)"
                    " VALUES (:c, 'phone', 'outbound', 'message', :t)"
                ),
                {"c": cid, "t": datetime.fromisoformat(at).replace(tzinfo=UTC)},
            )
        await s.commit()

    utc = await plan(run, admin)  # default_timezone: UTC
    assert utc["timezone"] == "UTC"
    assert names(utc["due_today"]) == [("evening", 0), ("past-midnight", 0)]
    assert names(utc["overdue"]) == [("night", 1)]

    moscow = await plan(run, admin, timezone="Europe/Moscow")
    assert moscow["timezone"] == "Europe/Moscow"
    assert names(moscow["due_today"]) == [("evening", 0), ("night", 0)]
    assert moscow["overdue"] == []
    assert [d["due_on"] for d in moscow["due_today"]] == ["2026-03-10", "2026-03-10"]

    # The manager's team keeps Moscow time: no parameter needed.
    r = await run.client.post(
        "/api/v1/teams", json={"name": "Moscow sales", "member_ids": [me]}, headers=auth(admin)
    )
    team = r.json()["id"]
    r = await run.client.patch(
        f"/api/v1/teams/{team}", json={"timezone": "Mars/Olympus"}, headers=auth(admin)
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_timezone"
    r = await run.client.patch(
        f"/api/v1/teams/{team}", json={"timezone": "Europe/Moscow"}, headers=auth(admin)
    )
    assert r.status_code == 200 and r.json()["timezone"] == "Europe/Moscow"
    by_team = await plan(run, admin)
    assert by_team["timezone"] == "Europe/Moscow"
    assert names(by_team["due_today"]) == [("evening", 0), ("night", 0)]

    r = await run.client.get(
        "/api/v1/cadence", params={"timezone": "Nowhere/Atlantis"}, headers=auth(admin)
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_timezone"
