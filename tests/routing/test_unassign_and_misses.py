"""Issue 17 (routing): unassign goes to someone else or waits; a missed target with nobody
else to take it stays with the operator and is charged once; slow_response is visible."""

from typing import Any

import pytest
from sqlalchemy import text

from app.routing import tasks
from tests.conftest import Running
from tests.helpers import auth
from tests.routing.test_routing import (
    assignees,
    make_operators,
    new_lead,
    set_presence,
    team_channel,
)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def unassign(run: Running, admin: str, conv: int) -> None:
    r = await run.client.post(
        f"/api/v1/conversations/{conv}/assign", json={"assignee_id": None}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text


async def test_unassign_hands_it_to_someone_else(run: Running) -> None:
    admin = await run.admin_token()
    a, b = await make_operators(run, admin, 2)
    key = await team_channel(run, admin, [a, b], strategy="round_robin")
    conv = await new_lead(run, key)
    first = (await assignees(run))[conv]
    other = b if first == a else a
    await unassign(run, admin, conv)
    assert (await assignees(run))[conv] == other


async def test_unassign_with_nobody_else_waits_for_someone_else(run: Running) -> None:
    admin = await run.admin_token()
    a, b = await make_operators(run, admin, 2)
    await set_presence(run, admin, b, "offline")
    key = await team_channel(run, admin, [a, b])
    conv = await new_lead(run, key)
    assert (await assignees(run))[conv] == a
    await unassign(run, admin, conv)
    assert (await assignees(run))[conv] is None
    await tasks.run_drain_all(run.ctx.sessions)  # the periodic sweep does not give it back
    assert (await assignees(run))[conv] is None
    await set_presence(run, admin, b, "online")
    assert (await assignees(run))[conv] == b


async def miss_deadlines(run: Running) -> int:
    async with run.ctx.sessions() as s:
        await s.execute(
            text(
                "UPDATE conversations SET response_due_at = now() - interval '1 second' "
                "WHERE response_due_at IS NOT NULL"
            )
        )
        await s.commit()
    missed = await tasks.run_missed_responses(run.ctx.sessions)
    await tasks.run_drain_all(run.ctx.sessions)
    return missed


async def test_missed_target_with_nobody_else_stays_and_is_charged_once(run: Running) -> None:
    admin = await run.admin_token()
    (a,) = await make_operators(run, admin, 1)
    key = await team_channel(run, admin, [a], response_target_seconds=60, max_reassignments=2)
    conv = await new_lead(run, key)
    assert (await assignees(run))[conv] == a
    # Three timer rounds: only the first finds a missed deadline.
    assert [await miss_deadlines(run) for _ in range(3)] == [1, 0, 0]
    assert (await assignees(run))[conv] == a
    async with run.ctx.sessions() as s:
        row = (
            await s.execute(
                text(
                    "SELECT slow_response, reassign_count, queued_at FROM conversations"
                    " WHERE id = :i"
                ),
                {"i": conv},
            )
        ).one()
        misses = await s.scalar(
            text(
                "SELECT count(*) FROM touchpoints WHERE conversation_id = :i"
                " AND kind = 'assignment' AND reaction = 'negative'"
            ),
            {"i": conv},
        )
    assert row.slow_response and row.reassign_count == 0 and row.queued_at is None
    assert misses == 1


async def test_missed_target_with_a_lead_escalates_once(run: Running) -> None:
    admin = await run.admin_token()
    a, lead = await make_operators(run, admin, 2)
    await set_presence(run, admin, lead, "offline")  # the lead takes no routed leads
    key = await team_channel(
        run, admin, [a], response_target_seconds=60, max_reassignments=2, lead_id=lead
    )
    conv = await new_lead(run, key)
    assert (await assignees(run))[conv] == a
    assert [await miss_deadlines(run) for _ in range(3)] == [1, 0, 0]
    assert (await assignees(run))[conv] == lead
    async with run.ctx.sessions() as s:
        misses = await s.scalar(
            text(
                "SELECT count(*) FROM touchpoints WHERE conversation_id = :i"
                " AND kind = 'assignment' AND reaction = 'negative'"
            ),
            {"i": conv},
        )
    assert misses == 1


async def test_slow_response_is_shown_and_filters(run: Running) -> None:
    admin = await run.admin_token()
    a, b = await make_operators(run, admin, 2)
    key = await team_channel(run, admin, [a, b], response_target_seconds=60)
    slow = await new_lead(run, key)
    fine = await new_lead(run, key)
    async with run.ctx.sessions() as s:
        await s.execute(
            text("UPDATE conversations SET response_due_at = NULL WHERE id = :i"), {"i": fine}
        )
        await s.commit()
    assert await miss_deadlines(run) == 1
    r = await run.client.get(f"/api/v1/conversations/{slow}", headers=auth(admin))
    assert r.status_code == 200 and r.json()["slow_response"] is True
    r = await run.client.get(f"/api/v1/conversations/{fine}", headers=auth(admin))
    assert r.json()["slow_response"] is False
    r = await run.client.get("/api/v1/conversations?slow_response=true", headers=auth(admin))
    assert [c["id"] for c in r.json()["items"]] == [slow]
    r = await run.client.get("/api/v1/conversations?slow_response=false", headers=auth(admin))
    assert [c["id"] for c in r.json()["items"]] == [fine]
