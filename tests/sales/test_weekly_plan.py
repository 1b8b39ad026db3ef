"""The weekly plan: deals wanted -> contacts needed at the configured ratio, beside the
week's contacts, touches and deals; the settings and targets that drive it."""

from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import auth
from tests.sales.scenario import Sales, day, get


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def test_settings_defaults_and_changes(run: Running) -> None:
    admin, op = await run.admin_token(), await run.operator_token()
    data = await get(run, op, "sales-settings")
    assert data == {
        "contacts_per_deal": 5.0,
        "base_min": 300,
        "base_max": 500,
        "reference_curve": [0.02, 0.04, 0.06, 0.1, None, None, 0.8],
        "drop_inactive_days": 30,
        "review_period_days": 30,
        "opt_out_words": ["stop", "стоп", "отписаться"],
    }
    url = "/api/v1/sales-settings"
    r = await run.client.patch(url, json={"base_min": 10}, headers=auth(op))
    assert r.status_code == 403
    for bad in (
        {"base_min": 600},
        {"contacts_per_deal": None},
        {"reference_curve": [0.1] * 6},
        {"reference_curve": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 1.5]},
        {"unknown": 1},
    ):
        r = await run.client.patch(url, json=bad, headers=auth(admin))
        assert r.status_code == 422, (bad, r.text)
    r = await run.client.patch(url, json={"contacts_per_deal": 4.5}, headers=auth(admin))
    assert r.status_code == 200 and r.json()["contacts_per_deal"] == 4.5
    log = await run.client.get(
        "/api/v1/audit-log", params={"action": "sales_settings.update"}, headers=auth(admin)
    )
    assert [e["details"] for e in log.json()["items"]] == [{"contacts_per_deal": 4.5}]


async def test_weekly_plan_per_manager(run: Running) -> None:
    admin, lead = await run.admin_token(), await run.operator_token("lead@example.com")
    async with run.ctx.sessions() as session:
        h = Sales(session)
        anna, boris = await h.operator("Anna"), await h.operator("Boris")
        c = [await h.client(anna) for _ in range(8)]
        # Anna reached c0..c4 this week (six touches); the rest does not count.
        await h.touches(c[0], [day(0.5), day(2)], operator=anna)
        await h.touch(c[1], day(1), kind="email", channel="email", operator=anna)
        await h.touch(c[2], day(1), kind="notification", operator=anna)
        await h.touch(c[3], day(6.99), kind="meeting", channel="phone", operator=anna)
        await h.touch(c[4], day(3), kind="call", channel="phone", operator=anna)
        await h.touch(c[5], day(3), direction="inbound", operator=anna)  # the client wrote
        await h.touch(c[6], day(3), kind="note", direction="internal", operator=anna)
        await h.touch(c[7], day(7), operator=anna)  # next week
        await h.touch(c[7], day(-0.01), operator=anna)  # last week
        d1 = await h.client(anna, stage="customer", converted=day(3))
        await h.client(anna, stage="customer", converted=day(-1))
        await h.touch(d1, day(2), operator=boris, channel="whatsapp")
        team = await h.team("North", [boris])
        lead_id = await session.scalar(
            text("SELECT id FROM operators WHERE email = :e"),
            {"e": "lead@example.com"},
        )
        await h.lead(team, lead_id)
        await session.commit()

    r = await run.client.put(
        f"/api/v1/sales-targets/{anna}", json={"deals_per_week": 3}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    data = await get(run, admin, "analytics/weekly-plan", week="2026-03-08")
    assert data["contacts_per_deal"] == 5.0
    plans = {m["name"]: m for m in data["managers"]}
    assert plans["Anna"] == {
        "operator_id": anna,
        "name": "Anna",
        "deals_wanted": 3,
        "contacts_needed": 15,
        "contacts_touched": 5,
        "touches": 6,
        "deals_won": 1,
        "shortfall": 10,
    }
    assert (plans["Boris"]["deals_wanted"], plans["Boris"]["contacts_needed"]) == (None, None)
    assert (plans["Boris"]["contacts_touched"], plans["Boris"]["shortfall"]) == (1, None)

    # The ratio is a setting: 3 deals at 4.5 contacts each need 14 (13.5 rounded up).
    r = await run.client.patch(
        "/api/v1/sales-settings", json={"contacts_per_deal": 4.5}, headers=auth(admin)
    )
    again = await get(run, admin, "analytics/weekly-plan", week="2026-03-02", operator_id=anna)
    assert [(m["contacts_needed"], m["shortfall"]) for m in again["managers"]] == [(14, 9)]

    # A team lead sets their members' targets and reads their team's plan, nobody else's.
    url = "/api/v1/sales-targets/{}"
    r = await run.client.put(url.format(boris), json={"deals_per_week": 2}, headers=auth(lead))
    assert r.status_code == 200, r.text
    r = await run.client.put(url.format(anna), json={"deals_per_week": 9}, headers=auth(lead))
    assert r.status_code == 403
    r = await run.client.put(url.format(anna), json={"deals_per_week": -1}, headers=auth(admin))
    assert r.status_code == 422
    team_plan = await get(run, lead, "analytics/weekly-plan", week="2026-03-02", team_id=team)
    assert [
        (m["name"], m["deals_wanted"], m["contacts_needed"]) for m in team_plan["managers"]
    ] == [("Boris", 2, 9)]
    await get(run, lead, "analytics/weekly-plan", 403, operator_id=anna)
