"""Response and resolution times per manager, reactions (the weak links), inbound load."""

from datetime import timedelta
from typing import Any

import pytest

from tests.analytics.history import RANGE, History, T, day, report
from tests.conftest import Running
from tests.helpers import auth


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


def sec(n: float) -> Any:
    return T + timedelta(seconds=n)


async def test_response_and_resolution_times_per_manager(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = History(session)
        a, b = await h.operator("Anna"), await h.operator("Boris")
        tg, wa = await h.channel("telegram"), await h.channel("whatsapp")
        c = await h.contact(a)
        # Anna, first responses 100, 300 (never assigned), 200 (assigned only after the
        # answer: from creation), 1000; resolutions 1, 2, 3 hours.
        await h.conversation(c, tg, a, T, sec(60), sec(160), sec(3600))
        await h.conversation(c, tg, a, T, None, sec(300), sec(7200))
        await h.conversation(c, tg, a, T, sec(600), sec(200), None)
        await h.conversation(c, tg, a, T, sec(10), sec(1010), sec(10800))
        # Answered before the range, resolved in it after 3 days: a resolution only.
        await h.conversation(c, tg, a, day(-2), day(-2), day(-2) + timedelta(seconds=5), day(1))
        # Entirely after the range.
        await h.conversation(c, tg, a, day(20), day(20), day(20), day(21))
        # Boris on WhatsApp: 30 s to answer, 10 minutes to resolve.
        await h.conversation(
            c, wa, b, day(1), day(1), day(1) + timedelta(seconds=30), day(1) + timedelta(minutes=10)
        )
        team = await h.team("North", [b])
        await session.commit()

    data = await report(run, admin, "response-times")
    managers = {m["operator_id"]: m for m in data["managers"]}
    assert [m["operator_id"] for m in data["managers"]] == [a, b]  # slowest first
    anna = managers[a]
    assert anna["name"] == "Anna"
    assert anna["first_response"]["count"] == 4
    assert anna["first_response"]["median_seconds"] == pytest.approx(250)
    assert anna["first_response"]["p90_seconds"] == pytest.approx(790)  # 300 + 0.7 * 700
    # Resolutions 3600, 7200, 10800, 259200.
    assert anna["resolution"]["count"] == 4
    assert anna["resolution"]["median_seconds"] == pytest.approx(9000)
    assert anna["resolution"]["p90_seconds"] == pytest.approx(10800 + 0.7 * 248400)
    assert managers[b]["first_response"] == {
        "count": 1,
        "median_seconds": pytest.approx(30),
        "p90_seconds": pytest.approx(30),
    }
    assert managers[b]["resolution"]["median_seconds"] == pytest.approx(600)
    overall = data["overall"]
    assert overall["operator_id"] is None
    assert overall["first_response"]["count"] == 5
    assert overall["first_response"]["median_seconds"] == pytest.approx(200)
    assert overall["first_response"]["p90_seconds"] == pytest.approx(720)  # 300 + 0.6 * 700
    assert overall["resolution"]["count"] == 5

    whatsapp = await report(run, admin, "response-times", channel="whatsapp")
    assert [m["operator_id"] for m in whatsapp["managers"]] == [b]
    north = await report(run, admin, "response-times", team_id=team)
    assert north["overall"]["first_response"]["count"] == 1
    none = await report(run, admin, "response-times", operator_id=999)
    assert none["managers"] == []
    assert none["overall"]["first_response"] == {
        "count": 0,
        "median_seconds": None,
        "p90_seconds": None,
    }


async def test_reactions_by_channel_step_and_manager(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = History(session)
        a, b = await h.operator("Anna"), await h.operator("Boris")
        c = await h.contact(a)
        tg = {"channel": "telegram", "operator": a}
        wa = {"channel": "whatsapp", "operator": b}
        delivery = {"chain": "delivery"}
        # Telegram (Anna): 2 positive, 1 negative, 3 unknown; one positive at step accepted.
        await h.touch(c, day(1), reaction="positive", step="accepted", **delivery, **tg)
        await h.touch(c, day(1), reaction="positive", **tg)
        await h.touch(c, day(1), reaction="negative", **tg)
        await h.touches(c, [day(1), day(2), day(3)], **tg)
        # WhatsApp (Boris): 2 negative at the courier call, 1 neutral at accepted, 1 positive.
        await h.touches(
            c, [day(2), day(3)], reaction="negative", step="courier_call", **delivery, **wa
        )
        await h.touch(c, day(2), reaction="neutral", step="accepted", **delivery, **wa)
        await h.touch(c, day(2), reaction="positive", **wa)
        # No manager; and one outside the range.
        await h.touch(c, day(2), channel="webchat", direction="inbound", reaction="neutral")
        await h.touch(c, day(-1), reaction="negative", **tg)
        await session.commit()

    data = await report(run, admin, "reactions")
    counts = ("channel", "positive", "neutral", "negative", "unknown", "total", "negative_share")
    assert [tuple(row[k] for k in counts) for row in data["by_channel"]] == [
        ("whatsapp", 1, 1, 2, 0, 4, 0.5),
        ("telegram", 2, 0, 1, 3, 6, 1 / 3),
        ("webchat", 0, 1, 0, 0, 1, 0.0),
    ]
    assert [
        (r["chain"], r["step"], r["positive"], r["neutral"], r["negative"], r["negative_share"])
        for r in data["by_step"]
    ] == [
        ("delivery", "courier_call", 0, 0, 2, 1.0),
        ("delivery", "accepted", 1, 1, 0, 0.0),
    ]
    assert [(r["operator_id"], r["name"], r["negative_share"]) for r in data["by_manager"]] == [
        (b, "Boris", 0.5),
        (a, "Anna", 1 / 3),
    ]

    chain = await report(run, admin, "reactions", chain="delivery")
    assert [(r["channel"], r["total"]) for r in chain["by_channel"]] == [
        ("whatsapp", 3),
        ("telegram", 1),
    ]
    step = await report(run, admin, "reactions", chain="delivery", step="accepted")
    assert [r["step"] for r in step["by_step"]] == ["accepted"]
    anna = await report(run, admin, "reactions", operator_id=a)
    assert [r["channel"] for r in anna["by_channel"]] == ["telegram"]


async def test_inbound_load_per_manager_per_day(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = History(session)
        a, b = await h.operator("Anna"), await h.operator("Boris")
        tg = await h.channel("telegram")
        c = await h.contact(a)
        x = await h.conversation(c, tg, a)
        y = await h.conversation(c, tg, b)
        inbound = {"direction": "inbound"}
        # Anna's conversation: two on day 0, one on day 1 (no operator on the touch).
        await h.touches(
            c, [day(0) + timedelta(hours=10), day(0.5), day(1)], conversation=x, **inbound
        )
        # Boris's conversation, but the touch names Anna: the touch wins.
        await h.touch(c, day(1.5), conversation=y, operator=a, **inbound)
        # Boris: day 2 at noon, and day 2 at 23:30 UTC (day 3 in Moscow).
        await h.touch(c, day(2.5), conversation=y, **inbound)
        await h.touch(c, day(2) + timedelta(hours=23, minutes=30), conversation=y, **inbound)
        # Nobody's: no conversation.
        await h.touch(c, day(4), channel="webchat", **inbound)
        # Not inbound messages, or outside the range.
        await h.touch(c, day(1), conversation=x, direction="outbound")
        await h.touch(c, day(1), kind="button", conversation=x, **inbound)
        await h.touch(c, day(-1), conversation=x, **inbound)
        await h.touch(c, day(10), conversation=x, **inbound)
        team = await h.team("North", [b])
        await session.commit()

    def days(manager: dict[str, Any]) -> dict[str, int]:
        return {d["day"]: d["count"] for d in manager["days"]}

    data = await report(run, admin, "inbound-load")
    assert data["total"] == 7
    assert [(m["operator_id"], m["name"], m["total"]) for m in data["managers"]] == [
        (a, "Anna", 4),
        (b, "Boris", 2),
        (None, None, 1),
    ]
    assert days(data["managers"][0]) == {"2026-03-02": 2, "2026-03-03": 2}
    assert days(data["managers"][1]) == {"2026-03-04": 2}

    moscow = await report(run, admin, "inbound-load", timezone="Europe/Moscow", team_id=team)
    assert [m["operator_id"] for m in moscow["managers"]] == [b]
    assert days(moscow["managers"][0]) == {"2026-03-04": 1, "2026-03-05": 1}

    webchat = await report(run, admin, "inbound-load", channel="webchat")
    assert [(m["operator_id"], m["total"]) for m in webchat["managers"]] == [(None, 1)]
    await report(run, admin, "inbound-load", expect=422, timezone="Mars/Olympus")


async def test_bad_ranges_are_refused(run: Running) -> None:
    admin = await run.admin_token()
    backwards = {"from": RANGE["to"], "to": RANGE["from"]}
    for name in ("touches-per-client", "rates", "dropped-leads", "reactions"):
        r = await run.client.get(f"/api/v1/analytics/{name}", params=backwards, headers=auth(admin))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_range"
    # A time without a zone is UTC.
    naive = {"from": "2026-03-02T00:00:00", "to": "2026-03-12T00:00:00"}
    r = await run.client.get(
        "/api/v1/analytics/touches-per-client", params=naive, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    assert r.json()["range"]["start"] in ("2026-03-02T00:00:00Z", "2026-03-02T00:00:00+00:00")
