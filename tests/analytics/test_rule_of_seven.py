"""Touches per client, conversion by touch number (the rule of seven) and leads dropped
before the seventh touch, on constructed histories with exact expectations."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.analytics.history import History, day, report
from tests.conftest import Running


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


def buckets(data: dict[str, Any], key: str = "buckets") -> dict[str, tuple[int, Any]]:
    return {b["bucket"]: (b["count"], b["share"]) for b in data[key]}


async def test_conversion_by_touch_gives_the_exact_shares(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = History(session)
        a, b = await h.operator("Anna"), await h.operator("Boris")
        # Ten conversions in the range: nine with a known touch number.
        for n, owner in [(1, a), (2, a), (2, b), (4, a), (6, b), (7, a), (7, b), (9, a), (15, b)]:
            await h.contact(owner, "customer", day(-30), day(3), day(3), n)
        await h.contact(a, "customer", day(-30), day(4), day(4), None)
        # Outside the range: ignored.
        await h.contact(a, "customer", day(-30), day(-1), day(-1), 1)
        await h.contact(a, "customer", day(-30), day(10), day(10), 1)
        # Customers with stage changed in the range are not conversions unless converted.
        await h.contact(a, "lost", day(-30), day(3), None, None)
        await session.commit()

    data = await report(run, admin, "conversion-by-touch")
    assert (data["converted"], data["known"]) == (10, 9)
    assert buckets(data) == {
        "1": (1, 1 / 9),
        "2": (2, 2 / 9),
        "3": (0, 0.0),
        "4": (1, 1 / 9),
        "5": (0, 0.0),
        "6": (1, 1 / 9),
        "7+": (4, 4 / 9),
    }
    assert data["before_seventh_share"] == 5 / 9

    # One manager: Boris converted at touches 2, 6, 7, 15.
    data = await report(run, admin, "conversion-by-touch", operator_id=b)
    assert (data["converted"], data["known"]) == (4, 4)
    assert buckets(data)["2"] == (1, 0.25)
    assert buckets(data)["6"] == (1, 0.25)
    assert buckets(data)["7+"] == (2, 0.5)

    async with run.ctx.sessions() as session:
        team = await History(session).team("North", [b])
        await session.commit()
    assert (await report(run, admin, "conversion-by-touch", team_id=team))["converted"] == 4

    empty = await report(run, admin, "conversion-by-touch", operator_id=999)
    assert empty["converted"] == 0
    assert empty["before_seventh_share"] is None
    assert all(b["share"] is None for b in empty["buckets"])


async def test_touches_per_client(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = History(session)
        a, b = await h.operator("Anna"), await h.operator("Boris")
        c1, c2, c3, c4 = [await h.contact(a) for _ in range(4)]
        # c1: 2 on telegram (Anna) + 1 on whatsapp (Boris); internal touches do not count.
        await h.touches(c1, [day(1), day(2)], operator=a)
        await h.touch(c1, day(3), channel="whatsapp", operator=b)
        await h.touch(c1, day(3), kind="assignment", direction="internal", operator=a)
        await h.touch(c1, day(3), kind="note", direction="internal", operator=a)
        await h.touch(c1, day(3), kind="delivery_failure", reaction="negative", operator=a)
        await h.touch(c1, day(-1), operator=a)  # before the range
        # c2: one inbound whatsapp message; c3: 8 touches of several client kinds.
        await h.touch(c2, day(5), channel="whatsapp", direction="inbound")
        kinds = ["message", "call", "email", "meeting", "notification", "survey", "button"]
        for i, kind in enumerate([*kinds, "message"]):
            await h.touch(c3, day(1 + i), kind=kind, operator=a)
        # c4: only outside the range.
        await h.touch(c4, day(10), operator=a)
        await h.touch(c4, day(-5), operator=a)
        team = await h.team("South", [b])
        await session.commit()

    data = await report(run, admin, "touches-per-client")
    assert (data["contacts"], data["touches"]) == (3, 12)  # per contact: 3, 1, 8
    assert data["mean"] == 4.0
    assert data["median"] == 3.0
    assert data["p90"] == pytest.approx(7.0)  # 3 + 0.8 * (8 - 3)
    assert buckets(data, "histogram") == {
        "1": (1, 1 / 3),
        "2": (0, 0.0),
        "3": (1, 1 / 3),
        "4": (0, 0.0),
        "5": (0, 0.0),
        "6": (0, 0.0),
        "7+": (1, 1 / 3),
    }

    whatsapp = await report(run, admin, "touches-per-client", channel="whatsapp")
    assert (whatsapp["contacts"], whatsapp["touches"], whatsapp["median"]) == (2, 2, 1.0)

    anna = await report(run, admin, "touches-per-client", operator_id=a)
    assert (anna["contacts"], anna["touches"]) == (2, 10)
    boris = await report(run, admin, "touches-per-client", team_id=team)
    assert (boris["contacts"], boris["touches"]) == (1, 1)

    narrow = await report(
        run, admin, "touches-per-client", **{"from": day(1).isoformat(), "to": day(2).isoformat()}
    )
    assert (narrow["contacts"], narrow["touches"]) == (2, 2)


async def test_default_range_is_the_last_30_days(run: Running) -> None:
    admin = await run.admin_token()
    now = datetime.now(UTC)
    async with run.ctx.sessions() as session:
        h = History(session)
        c = await h.contact()
        await h.touches(c, [now - timedelta(days=1), now - timedelta(days=29)])
        await h.touch(c, now - timedelta(days=31))
        await session.commit()
    r = await run.client.get(
        "/api/v1/analytics/touches-per-client", headers={"Authorization": f"Bearer {admin}"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["touches"] == 2


async def test_dropped_leads_before_the_seventh_touch(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = History(session)
        a, b = await h.operator("Anna"), await h.operator("Boris")
        old = day(-60)
        # Lost in the range with 3 touches: dropped.
        d1 = await h.contact(a, "lost", old, changed=day(1), name="d1")
        await h.touches(d1, [day(-40), day(-30), day(-20)])
        # Lost in the range but after 7 touches: not dropped before the seventh.
        d2 = await h.contact(a, "lost", old, changed=day(1))
        await h.touches(d2, [day(-50 + i) for i in range(7)])
        # Lost before the range: not in this report.
        await h.contact(a, "lost", old, changed=day(-5))
        # Quiet for 30 days, the quiet period ending at day 5: dropped.
        d4 = await h.contact(a, "lead", old, name="d4")
        await h.touches(d4, [day(-30), day(-25)])
        # Quiet since day -35: dropped before the range.
        d5 = await h.contact(a, "lead", old)
        await h.touch(d5, day(-35))
        # Touched again in the range: not quiet.
        d6 = await h.contact(a, "lead", old)
        await h.touches(d6, [day(-25), day(2)])
        # Never touched, created at day -28: quiet from day 2.
        d7 = await h.contact(b, "qualified", day(-28), name="d7")
        # A customer is not a lead.
        await h.contact(b, "customer", day(-28), changed=day(-1), converted=day(-1), touch=3)
        # A note is not a client touch: quiet since day -26, dropped at day 4.
        d9 = await h.contact(b, "lead", old, name="d9")
        await h.touch(d9, day(-26))
        await h.touch(d9, day(1), kind="note", direction="internal")
        # Seven touches, then quiet: not dropped before the seventh.
        d10 = await h.contact(b, "lead", old)
        await h.touches(d10, [day(-40 + i) for i in range(7)])
        # Quiet since day -15: dropped at day 15 after 30 days, at day 5 after 20.
        d11 = await h.contact(b, "lead", old)
        await h.touch(d11, day(-15))
        await session.commit()

    data = await report(run, admin, "dropped-leads")
    assert data["total"] == 4
    assert [(i["contact_id"], i["reason"], i["touches"]) for i in data["items"]] == [
        (d4, "inactive", 2),
        (d9, "inactive", 1),
        (d7, "inactive", 0),
        (d1, "lost", 3),
    ]
    assert datetime.fromisoformat(data["items"][0]["dropped_at"]) == day(5)
    assert datetime.fromisoformat(data["items"][0]["last_touch_at"]) == day(-25)
    assert data["items"][2]["last_touch_at"] is None
    managers = {m["owner_id"]: (m["name"], m["lost"], m["inactive"]) for m in data["by_manager"]}
    assert managers == {a: ("Anna", 1, 1), b: ("Boris", 0, 2)}
    assert data["truncated"] is False

    first_two = await report(run, admin, "dropped-leads", limit=2)
    assert [i["contact_id"] for i in first_two["items"]] == [d4, d9]
    assert (first_two["total"], first_two["truncated"]) == (4, True)

    boris = await report(run, admin, "dropped-leads", operator_id=b)
    assert {i["contact_id"] for i in boris["items"]} == {d7, d9}

    # Quiet for 20 days: d4, d7 and d9 went quiet before the range, d11 within it.
    shorter = await report(run, admin, "dropped-leads", inactive_days=20)
    assert {i["contact_id"] for i in shorter["items"]} == {d1, d11}
