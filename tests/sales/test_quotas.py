"""Priority levels and their quotas: the seeded defaults (DOMAIN.md), admins' changes
(audited), the contact's level, and plan vs fact per manager for a week, against figures
worked out by hand below."""

from typing import Any

import pytest

from tests.conftest import Running
from tests.helpers import auth
from tests.sales.scenario import Sales, day, get


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def test_levels_are_seeded_from_the_domain_and_admins_change_them(run: Running) -> None:
    admin, op = await run.admin_token(), await run.operator_token()
    r = await run.client.get("/api/v1/priority-levels", headers=auth(op))
    assert r.status_code == 200
    assert [(x["level"], x["calls"], x["meetings"], x["messages"]) for x in r.json()] == [
        (1, 5, 5, 0),
        (2, 4, 4, 0),
        (3, 3, 3, 0),
        (4, 2, 2, 0),
        (5, 0, 0, 0),
    ]
    assert {x["period_days"] for x in r.json()} == {28}

    body = {"messages": 2, "name": "Loyal"}
    r = await run.client.patch("/api/v1/priority-levels/3", json=body, headers=auth(op))
    assert r.status_code == 403
    r = await run.client.patch("/api/v1/priority-levels/3", json=body, headers=auth(admin))
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["messages"], r.json()["calls"]) == ("Loyal", 2, 3)
    r = await run.client.patch("/api/v1/priority-levels/9", json=body, headers=auth(admin))
    assert r.status_code == 404
    r = await run.client.patch("/api/v1/priority-levels/3", json={"calls": -1}, headers=auth(admin))
    assert r.status_code == 422
    log = await run.client.get(
        "/api/v1/audit-log", params={"action": "priority_level.update"}, headers=auth(admin)
    )
    [entry] = log.json()["items"]
    assert (entry["target_id"], entry["details"]) == (3, body)


async def test_contact_carries_a_level(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        contact = await Sales(session).client(None)
        await session.commit()
    url = f"/api/v1/contacts/{contact}"
    r = await run.client.patch(url, json={"priority_level": 2}, headers=auth(admin))
    assert r.status_code == 200, r.text
    assert r.json()["priority_level"] == 2
    r = await run.client.patch(url, json={"priority_level": 6}, headers=auth(admin))
    assert r.status_code == 422
    r = await run.client.patch(url, json={"priority_level": None}, headers=auth(admin))
    assert r.json()["priority_level"] is None


async def test_plan_vs_fact_per_manager_and_week(run: Running) -> None:
    admin, op = await run.admin_token(), await run.operator_token()
    r = await run.client.patch(
        "/api/v1/priority-levels/3", json={"messages": 2}, headers=auth(admin)
    )
    assert r.status_code == 200
    async with run.ctx.sessions() as session:
        h = Sales(session)
        anna, boris = await h.operator("Anna"), await h.operator("Boris")
        # The week is day(0)..day(7) (Mon 2 March 2026); the 28-day period is day(-21)..day(7).
        c1 = await h.client(anna, level=1, name="c1")  # owes 5 calls, 5 meetings
        for at in [-20, -10, 1, 2, 3, 6.9]:
            await h.touch(c1, day(at), kind="call", channel="phone")  # 6 in the period
        await h.touch(c1, day(-22), kind="call", channel="phone")  # before the period
        await h.touch(c1, day(7), kind="call", channel="phone")  # after the week
        await h.touches(c1, [day(1), day(2)], kind="meeting", channel="phone")
        await h.client(anna, level=5)  # owes nothing
        c3 = await h.client(anna, level=4)  # owes 2 and 2: met, calls either way
        await h.touch(c3, day(0), kind="call", direction="inbound", channel="phone")
        await h.touch(c3, day(4), kind="call", channel="phone")
        await h.touch(c3, day(4), kind="call", direction="internal", channel="phone")
        await h.touches(c3, [day(-1), day(5)], kind="meeting", channel="phone")
        await h.client(anna, level=1, stage="lost")  # not in the live base
        await h.client(anna)  # no level
        c6 = await h.client(boris, level=3, name="c6")  # owes 3, 3 and (patched) 2 messages
        await h.touch(c6, day(3), kind="call", channel="phone")
        await h.touch(c6, day(3), kind="message")
        await h.touch(c6, day(3), kind="message", direction="inbound")  # not sent by us
        await session.commit()

    data = await get(run, admin, "analytics/quotas", week="2026-03-04")
    assert data["range"]["start"].startswith("2026-03-02T00:00:00")
    managers = {m["name"]: m for m in data["managers"]}
    assert [m["name"] for m in data["managers"]] == ["Boris", "Anna"]  # furthest behind first
    a, b = managers["Anna"], managers["Boris"]
    assert (a["clients"], a["clients_behind"]) == (3, 1)
    assert a["owed"] == {"calls": 7, "meetings": 7, "messages": 0}
    assert a["done"] == {"calls": 8, "meetings": 4, "messages": 0}
    assert a["met"] == {"calls": 7, "meetings": 4, "messages": 0}
    assert a["fulfilment"] == 11 / 14
    assert b["owed"] == {"calls": 3, "meetings": 3, "messages": 2}
    assert b["met"] == {"calls": 1, "meetings": 0, "messages": 1}
    assert b["fulfilment"] == 2 / 8
    behind = {x["contact_id"]: x for x in data["behind"]}
    assert set(behind) == {c1, c6}
    assert behind[c1]["missing"] == {"calls": 0, "meetings": 3, "messages": 0}
    assert behind[c6]["missing"] == {"calls": 2, "meetings": 3, "messages": 1}

    # A week later the period is day(-14)..day(14): c1's call of day(-20) falls out and
    # that of day(7) comes in.
    later = await get(run, admin, "analytics/quotas", week="2026-03-09")
    assert {m["name"]: m["done"]["calls"] for m in later["managers"]}["Anna"] == 6 + 2 - 1 + 1

    # Scope: one manager; an operator sees only their own figures.
    only = await get(run, admin, "analytics/quotas", week="2026-03-04", operator_id=boris)
    assert [m["name"] for m in only["managers"]] == ["Boris"]
    assert [x["contact_id"] for x in only["behind"]] == [c6]
    mine = await get(run, op, "analytics/quotas", week="2026-03-04")
    assert mine["managers"] == [] and mine["behind"] == []
    await get(run, op, "analytics/quotas", 403, week="2026-03-04", operator_id=anna)
