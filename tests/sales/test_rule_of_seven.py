"""The rule of seven per manager and per channel beside the reference curve, and the daily
notice of leads dropped before the seventh touch, on a history worked out by hand."""

from datetime import date
from typing import Any

import pytest

from app.sales import seven
from tests.conftest import Running
from tests.helpers import auth
from tests.sales.scenario import RANGE, Sales, day, get


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


def buckets(line: dict[str, Any]) -> dict[str, int]:
    return {b["bucket"]: b["count"] for b in line["buckets"] if b["count"]}


async def test_conversion_by_touch_per_manager_and_channel(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = Sales(session)
        anna, boris = await h.operator("Anna"), await h.operator("Boris")
        k1 = await h.contact(anna, "customer", converted=day(3), touch=2)
        await h.touch(k1, day(1))
        await h.touch(k1, day(1.5), kind="note", direction="internal")  # not a client touch
        await h.touch(k1, day(2), channel="whatsapp")  # the second client touch
        await h.touch(k1, day(4))
        k2 = await h.contact(anna, "customer", converted=day(5), touch=7)
        await h.touches(k2, [day(-10 + i) for i in range(7)])
        k3 = await h.contact(anna, "customer", converted=day(6), touch=1)
        await h.touch(k3, day(6), channel="webchat")
        await h.contact(anna, "customer", converted=day(6), touch=None)  # touch not known
        await h.contact(anna, "customer", converted=day(-1), touch=1)  # before the range
        k6 = await h.contact(boris, "customer", converted=day(2), touch=3)
        await h.touches(k6, [day(0), day(1)], channel="whatsapp")
        await h.touch(k6, day(1.5))
        k7 = await h.contact(boris, "customer", converted=day(8), touch=9)  # log lacks it
        await h.touches(k7, [day(1), day(2)])
        await session.commit()

    data = await get(run, admin, "analytics/rule-of-seven", **RANGE)
    assert [p["share"] for p in data["reference"]] == [0.02, 0.04, 0.06, 0.1, None, None, 0.8]
    assert data["overall"]["known"] == 5
    assert buckets(data["overall"]) == {"1": 1, "2": 1, "3": 1, "7+": 2}
    assert data["overall"]["before_seventh_share"] == 3 / 5
    managers = [
        (m["name"], m["known"], buckets(m), m["before_seventh_share"]) for m in data["by_manager"]
    ]
    assert managers == [
        ("Anna", 3, {"1": 1, "2": 1, "7+": 1}, 2 / 3),
        ("Boris", 2, {"3": 1, "7+": 1}, 1 / 2),
    ]
    channels = [(c["channel"], c["known"], buckets(c)) for c in data["by_channel"]]
    assert channels == [
        ("telegram", 2, {"3": 1, "7+": 1}),
        ("unknown", 1, {"7+": 1}),
        ("webchat", 1, {"1": 1}),
        ("whatsapp", 1, {"2": 1}),
    ]
    telegram = await get(run, admin, "analytics/rule-of-seven", channel="telegram", **RANGE)
    assert (telegram["overall"]["known"], buckets(telegram["overall"])) == (2, {"3": 1, "7+": 1})
    assert [m["name"] for m in telegram["by_manager"]] == ["Anna", "Boris"]  # 1 each

    # The reference curve is a setting.
    curve = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4]
    r = await run.client.patch(
        "/api/v1/sales-settings", json={"reference_curve": curve}, headers=auth(admin)
    )
    assert r.status_code == 200
    again = await get(run, admin, "analytics/rule-of-seven", operator_id=boris, **RANGE)
    assert [p["share"] for p in again["reference"]] == curve
    assert [m["name"] for m in again["by_manager"]] == ["Boris"]


async def test_dropped_leads_are_pushed_to_their_manager_once_a_day(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = Sales(session)
        anna, boris = await h.operator("Anna"), await h.operator("Boris")
        lost = await h.contact(anna, "lost", created=day(-3), changed=day(5.5))
        await h.touches(lost, [day(-2), day(-1)])
        seventh = await h.contact(anna, "lost", created=day(-9), changed=day(5.5))
        await h.touches(seventh, [day(-8 + i) for i in range(7)])  # had its seven
        quiet = await h.contact(boris, created=day(-40))
        await h.touch(quiet, day(-25))  # quiet for 30 days from day(5)
        await session.commit()

    # 8 March (day 6) tells of 7 March: Anna's lost lead, Boris's quiet one.
    async with run.ctx.sessions() as session:
        told = await seven.notify_dropped_leads(session, date(2026, 3, 8), "UTC")
        await session.commit()
        assert told == {anna: 1, boris: 1}
        assert await seven.notify_dropped_leads(session, date(2026, 3, 8), "UTC") == {}

    # The quiet period is a setting: at 31 days Boris's lead drops a day later.
    r = await run.client.patch(
        "/api/v1/sales-settings", json={"drop_inactive_days": 31}, headers=auth(admin)
    )
    assert r.status_code == 200
    async with run.ctx.sessions() as session:
        assert await seven.notify_dropped_leads(session, date(2026, 3, 9), "UTC") == {boris: 1}
