"""Manager KPIs against hand-computed figures: calls and meetings (and per week), deals and
their size from orders' amounts, time to a deal, inbound vs own prospecting."""

from typing import Any

import pytest

from tests.conftest import Running
from tests.sales.scenario import RANGE, Sales, day, get


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def test_manager_kpis(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = Sales(session)
        anna, boris = await h.operator("Anna"), await h.operator("Boris")
        n1 = await h.contact(anna, "customer", created=day(1), converted=day(4))
        await h.touch(n1, day(1), direction="inbound")  # the client wrote first
        n2 = await h.contact(anna, "customer", created=day(2), converted=day(8))
        await h.touch(n2, day(2.5), operator=anna)  # Anna wrote first
        o3 = await h.contact(anna, "customer", created=day(-30), converted=day(5))
        await h.touch(o3, day(-29), operator=anna)
        await h.contact(anna, created=day(3))  # no touch yet: neither
        for at in (1, 2, 8, 11):
            await h.touch(n1, day(at), kind="call", channel="phone", operator=anna)
        await h.touch(n2, day(3), kind="meeting", channel="phone", operator=anna)
        await h.touch(n2, day(1), kind="call", channel="phone", operator=boris)
        await h.order(n1, day(4), {"value": "120.00", "currency": "EUR"})
        await h.order(n2, day(8), {"value": "80.50", "currency": "EUR"})
        await h.order(o3, day(5), 1000)
        await h.order(o3, day(6), {"value": "500", "currency": "EUR"}, status="cancelled")
        await h.order(n1, day(12), {"value": "1", "currency": "EUR"})  # after the range
        await h.order(n2, day(9), {"value": "n/a", "currency": "EUR"})  # no number
        await session.commit()

    data = await get(run, admin, "analytics/kpis", bucket="week", **RANGE)
    rows = {m["name"]: m for m in data["managers"]}
    a = rows["Anna"]
    assert (a["calls"], a["meetings"], a["deals"], a["conversions"]) == (3, 1, 4, 3)
    assert a["amounts"] == [
        {"currency": "EUR", "deals": 3, "with_amount": 2, "total": "200.50", "average": "100.25"},
        {"currency": None, "deals": 1, "with_amount": 1, "total": "1000.00", "average": "1000.00"},
    ]
    assert a["days_to_deal_median"] == pytest.approx(6.0)
    assert a["days_to_deal_mean"] == pytest.approx(44 / 3)
    assert (a["new_inbound"], a["new_prospected"]) == (1, 1)
    assert (a["won_inbound"], a["won_prospected"]) == (1, 2)
    assert a["series"] == [
        {"period": "2026-03-02", "calls": 2, "meetings": 1},
        {"period": "2026-03-09", "calls": 1, "meetings": 0},
    ]
    b = rows["Boris"]
    assert (b["calls"], b["deals"], b["conversions"], b["amounts"]) == (1, 0, 0, [])
    assert b["days_to_deal_median"] is None

    daily = await get(run, admin, "analytics/kpis", bucket="day", operator_id=anna, **RANGE)
    assert [(p["period"], p["calls"]) for p in daily["managers"][0]["series"]] == [
        ("2026-03-03", 1),
        ("2026-03-04", 1),
        ("2026-03-05", 0),  # the meeting's day
        ("2026-03-10", 1),
    ]
    other = await get(run, admin, "analytics/kpis", channel="telegram", **RANGE)
    assert {m["name"]: m["calls"] for m in other["managers"]} == {"Anna": 0, "Boris": 0, "admin": 0}
