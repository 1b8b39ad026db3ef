"""Base health: the live base against the configured band, clients overdue by their
category's cadence, and the review (move up, move down, remove, keep) logged as touchpoints."""

from typing import Any

import pytest

from tests.conftest import Running
from tests.helpers import auth
from tests.sales.scenario import Sales, day, get


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def test_base_band_overdue_and_review(run: Running) -> None:
    admin, op = await run.admin_token(), await run.operator_token()
    r = await run.client.patch(
        "/api/v1/sales-settings", json={"base_min": 2, "base_max": 3}, headers=auth(admin)
    )
    assert r.status_code == 200
    async with run.ctx.sessions() as session:
        h = Sales(session)
        anna, boris = await h.operator("Anna"), await h.operator("Boris")
        a1 = await h.client(anna, category="A", name="a1")  # weekly cadence
        await h.touch(a1, day(0))  # due day(7): 3 days late on day(10)
        a2 = await h.client(anna, level=3, category="A", name="a2")
        await h.touch(a2, day(8))  # due day(15)
        a3 = await h.client(anna, name="a3")
        a4 = await h.client(anna, name="a4")
        await h.client(anna, stage="lost", category="A")  # not in the live base
        b1 = await h.client(boris, category="A", name="b1")  # never touched: due day(7)
        await session.commit()

    data = await get(run, admin, "analytics/base-health", on="2026-03-12")
    assert (data["base_min"], data["base_max"]) == (2, 3)
    rows = {m["name"]: m for m in data["managers"]}
    assert [rows["Anna"][k] for k in ("live_base", "band", "overdue", "review_due")] == [
        4,
        "above",
        1,
        4,
    ]
    assert [(c["contact_id"], c["days_overdue"]) for c in rows["Anna"]["overdue_clients"]] == [
        (a1, 3)
    ]
    assert [rows["Boris"][k] for k in ("live_base", "band", "overdue", "review_due")] == [
        1,
        "below",
        1,
        1,
    ]
    assert rows["op"]["live_base"] == 0 and rows["op"]["band"] == "below"

    due = await get(run, admin, "analytics/base-review", operator_id=anna)
    assert [i["id"] for i in due["items"]] == [a2, a1, a3, a4]  # by level, the top first

    async def decide(contact: int, decision: str, token: str = admin, expect: int = 200) -> Any:
        r = await run.client.post(
            "/api/v1/analytics/base-review",
            json={"contact_id": contact, "decision": decision, "note": "review"},
            headers=auth(token),
        )
        assert r.status_code == expect, r.text
        return r.json()

    await decide(a1, "move_up", token=op, expect=403)  # not the operator's client
    assert (await decide(a1, "move_up"))["priority_level"] == 5  # none -> the lowest level
    assert (await decide(a2, "move_down"))["priority_level"] == 4
    assert (await decide(a3, "remove"))["owner_id"] is None
    assert (await decide(a4, "keep"))["priority_level"] is None
    await decide(a3, "keep", expect=422)  # in nobody's base now

    r = await run.client.get(f"/api/v1/contacts/{a2}", headers=auth(admin))
    assert r.json()["priority_level"] == 4
    r = await run.client.get("/api/v1/touchpoints", params={"contact_id": a2}, headers=auth(admin))
    [logged] = [t for t in r.json()["items"] if t["chain"] == "base_review"]
    assert (logged["kind"], logged["step"], logged["direction"]) == (
        "note",
        "move_down",
        "internal",
    )
    assert logged["meta"] == {"level_from": 3, "level_to": 4, "note": "review"}

    assert (await get(run, admin, "analytics/base-review", operator_id=anna))["items"] == []
    assert [i["id"] for i in (await get(run, admin, "analytics/base-review"))["items"]] == [b1]
    after = {m["name"]: m for m in (await get(run, admin, "analytics/base-health"))["managers"]}
    assert (after["Anna"]["live_base"], after["Anna"]["band"]) == (3, "within")
    assert after["Anna"]["review_due"] == 0
    # An operator sees only their own base.
    mine = await get(run, op, "analytics/base-health")
    assert [m["name"] for m in mine["managers"]] == ["op"]
