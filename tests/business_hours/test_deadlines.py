"""Response targets count open time when the team says so, on both paths that start the
clock (routing's assignment and the ingest's next unanswered message)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import auth, visitor_post, visitor_session
from tests.routing.test_routing import make_operators, team_channel


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def due_of(run: Running, conv: int) -> datetime | None:
    async with run.ctx.sessions() as s:
        due: datetime | None = await s.scalar(
            text("SELECT response_due_at FROM conversations WHERE id = :c"), {"c": conv}
        )
    return due


async def test_the_target_waits_for_the_next_opening(run: Running) -> None:
    admin = await run.admin_token()
    (op,) = await make_operators(run, admin, 1)
    key = await team_channel(run, admin, [op], response_target_seconds=90)
    async with run.ctx.sessions() as s:
        team = await s.scalar(text("SELECT id FROM teams WHERE name = 'Sales'"))
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    hours = {
        "enabled": True,
        "timezone": "UTC",
        "business_time_only": True,
        "schedule": [{"weekday": tomorrow.isoweekday(), "opens": "10:00", "closes": "11:00"}],
    }
    r = await run.client.put(
        f"/api/v1/teams/{team}/business-hours", json=hours, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    opening_plus_target = datetime(
        tomorrow.year, tomorrow.month, tomorrow.day, 10, 1, 30, tzinfo=UTC
    )

    visitor = (await visitor_session(run.client, key))["visitor_token"]
    r = await visitor_post(run.client, key, visitor, "Hello", "a")
    assert r.status_code == 201, r.text
    conv = int(r.json()["message"]["conversation_id"])
    assert await due_of(run, conv) == opening_plus_target  # routing assigned it

    r = await run.client.post(
        f"/api/v1/conversations/{conv}/messages", json={"text": "Hi"}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    assert await due_of(run, conv) is None
    r = await visitor_post(run.client, key, visitor, "Are you there?", "b")
    assert r.status_code == 201, r.text
    assert await due_of(run, conv) == opening_plus_target  # the ingest started the clock

    # Plain time again when the team says so.
    r = await run.client.put(
        f"/api/v1/teams/{team}/business-hours",
        json={**hours, "business_time_only": False},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text
    r = await run.client.post(
        f"/api/v1/conversations/{conv}/messages", json={"text": "Yes"}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    before = datetime.now(UTC)
    r = await visitor_post(run.client, key, visitor, "Thanks", "c")
    assert r.status_code == 201, r.text
    due = await due_of(run, conv)
    assert due is not None and before < due <= datetime.now(UTC) + timedelta(seconds=90)
