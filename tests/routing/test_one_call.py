"""Routing a new lead costs no SQL call of its own (issue 22): the decision, the claim and the
assignment happen in chatcentre_route_conversation, which the ingest's statement calls for the
conversation it opens, not in a dozen ORM round trips from Python, nor in a second
transaction."""

from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import statements_sent, visitor_post, visitor_session
from tests.routing.test_routing import make_operators, team_channel


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def test_a_new_lead_is_routed_within_the_ingests_call(run: Running) -> None:
    admin = await run.admin_token()
    ops = await make_operators(run, admin, 3)
    key = await team_channel(run, admin, ops)
    token = (await visitor_session(run.client, key))["visitor_token"]

    with statements_sent(run.ctx.engine) as statements:
        r = await visitor_post(run.client, key, token, "hello")
    assert r.status_code == 201, r.text

    assert len([s for s in statements if "chatcentre_ingest_message" in s]) == 1
    assert not [s for s in statements if "chatcentre_route_conversation" in s]
    # Nothing of the routing is left in Python: no savepoint, no operator row locked or
    # counted from here, no team turn.
    assert not [s for s in statements if s.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
    assert not [s for s in statements if "FROM operators" in s and "FOR UPDATE" in s]
    assert not [s for s in statements if "chatcentre_operator_loads" in s]
    assert not [s for s in statements if "pg_advisory" in s]

    conversation_id = r.json()["message"]["conversation_id"]
    async with run.ctx.sessions() as s:
        row = (
            await s.execute(
                text(
                    "SELECT c.assignee_id, c.response_due_at, ct.owner_id FROM conversations c"
                    " JOIN contacts ct ON ct.id = c.contact_id WHERE c.id = :id"
                ),
                {"id": conversation_id},
            )
        ).one()
    assert row.assignee_id in ops
    assert row.owner_id == row.assignee_id  # the new lead became their client
    assert row.response_due_at is not None  # the answer clock started
