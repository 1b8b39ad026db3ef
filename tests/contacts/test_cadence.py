"""Cadence: who is due a touch today and who is overdue, for a fixed clock (issue 6)."""

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import text

from app.touchpoints import cadence
from tests.conftest import Running
from tests.helpers import auth


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


async def test_due_and_overdue_for_a_fixed_day(run: Running) -> None:
    admin = await run.admin_token()
    me = (await run.client.get("/api/v1/operators/me", headers=auth(admin))).json()["id"]
    # (name, category, created, last client touch, last call)
    clients = [
        ("due-A", "A", "2026-01-01", "2026-03-03", None),  # A: weekly -> due 03-10
        ("late-A", "A", "2026-01-01", "2026-03-01", None),  # due 03-08: 2 days late
        ("fresh-B", "B", "2026-01-01", "2026-03-01", None),  # B: 21 days -> 03-22
        ("never-A", "A", "2026-03-03", None, None),  # no touch: from creation -> 03-10
        ("call-C", "C", "2026-01-01", "2026-03-01", "2026-02-08"),  # call: 30 days -> 03-10
        ("lost-A", "A", "2026-01-01", "2026-02-01", None),  # stage lost: never listed
        ("none", None, "2026-01-01", "2026-01-02", None),  # no category: no cadence
    ]
    async with run.ctx.sessions() as s:
        for name, cat, created, touched, called in clients:
            cid = await s.scalar(
                text(
                    "INSERT INTO contacts (name, category, owner_id, created_at, stage) "
                    "VALUES (:n, :c, :o, :t, :st) RETURNING id"
                ),
                {
                    "n": name,
                    "c": cat,
                    "o": me,
                    "t": at(created),
                    "st": "lost" if name == "lost-A" else "lead",
                },
            )
            # Internal touches never count toward the cadence.
            await s.execute(
                text(
                    "INSERT INTO touchpoints (contact_id, channel, direction, kind, occurred_at) "
                    "VALUES (:c, 'internal', 'internal', 'assignment', '2026-03-09')"
                ),
                {"c": cid},
            )
            for kind, when in (("message", touched), ("call", called)):
                if when:
                    await s.execute(
                        text(
                            "INSERT INTO touchpoints "
                            "(contact_id, channel, direction, kind, occurred_at) "
                            "VALUES (:c, 'phone', 'outbound', :k, :t)"
                        ),
                        {"c": cid, "k": kind, "t": at(when)},
                    )
        await s.commit()

    r = await run.client.get("/api/v1/cadence", params={"on": "2026-03-10"}, headers=auth(admin))
    assert r.status_code == 200, r.text
    report = r.json()
    due = sorted((d["name"], d["what"]) for d in report["due_today"])
    assert due == [("call-C", "call"), ("due-A", "touch"), ("never-A", "touch")]
    late = [(d["name"], d["what"], d["days_overdue"]) for d in report["overdue"]]
    assert late == [("late-A", "touch", 2)]

    # The daily digest runs once per day, whichever node gets there first.
    async with run.ctx.sessions() as s:
        assert await cadence.send_daily_digest(s, date(2026, 3, 10)) == 1
        await s.commit()
        assert await cadence.send_daily_digest(s, date(2026, 3, 10)) == 0


async def test_categories_are_configurable(run: Running) -> None:
    admin = await run.admin_token()
    r = await run.client.get("/api/v1/categories", headers=auth(admin))
    assert [c["code"] for c in r.json()] == ["A", "B", "C", "D"]
    assert r.json()[0]["cadence_days"] == 7
    r = await run.client.put(
        "/api/v1/categories/VIP",
        json={"name": "Rich and loyal", "position": 0, "cadence_days": 3},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text
    r = await run.client.get("/api/v1/categories", headers=auth(admin))
    assert [c["code"] for c in r.json()] == ["VIP", "A", "B", "C", "D"]
    operator = await run.operator_token()
    r = await run.client.put(
        "/api/v1/categories/X",
        json={"name": "x", "position": 9, "cadence_days": 3},
        headers=auth(operator),
    )
    assert r.status_code == 403
