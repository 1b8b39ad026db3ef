"""The assignee's answer deadline has one rule (chatcentre_response_due_at): the team's
response target from the assignment, whichever path assigns; none when nothing waits."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import auth
from tests.routing.test_routing import make_operators, new_lead, team_channel


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def clock(run: Running, conv: int) -> tuple[int | None, timedelta | None]:
    async with run.ctx.sessions() as s:
        row = (
            await s.execute(
                text(
                    "SELECT assignee_id, response_due_at - assigned_at AS target "
                    "FROM conversations WHERE id = :c"
                ),
                {"c": conv},
            )
        ).one()
    return row.assignee_id, row.target


async def test_routing_and_a_manual_assignment_give_the_teams_target(run: Running) -> None:
    admin = await run.admin_token()
    a, b = await make_operators(run, admin, 2)
    key = await team_channel(run, admin, [a, b], response_target_seconds=90)
    conv = await new_lead(run, key)
    first, target = await clock(run, conv)
    assert target == timedelta(seconds=90)

    other = b if first == a else a
    r = await run.client.post(
        f"/api/v1/conversations/{conv}/assign", json={"assignee_id": other}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    assert await clock(run, conv) == (other, timedelta(seconds=90))

    # Answered: nothing waits, so the next assignment starts no clock.
    r = await run.client.post(
        f"/api/v1/conversations/{conv}/messages", json={"text": "Hello"}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    r = await run.client.post(
        f"/api/v1/conversations/{conv}/assign", json={"assignee_id": first}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    assert await clock(run, conv) == (first, None)
