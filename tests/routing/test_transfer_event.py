"""A transfer to another team is a durable conversation.updated (issue 18: stored for the
outgoing webhooks to come), with who moved it from which team; the same team again is none."""

from typing import Any

import pytest
from sqlalchemy import select

from app.events.models import DomainEventRow
from app.events.types import ConversationUpdated
from tests.conftest import Running
from tests.helpers import auth
from tests.routing.test_routing import make_operators, new_lead, operator_id, team_channel


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def updates(run: Running) -> list[DomainEventRow]:
    async with run.ctx.sessions() as session:
        found = await session.scalars(
            select(DomainEventRow)
            .where(DomainEventRow.name == "conversation.updated")
            .order_by(DomainEventRow.id)
        )
        return list(found.all())


async def test_a_transfer_to_another_team_is_stored(run: Running) -> None:
    admin = await run.admin_token()
    a, b = await make_operators(run, admin, 2)
    key = await team_channel(run, admin, [a], name="Sales")
    r = await run.client.post(
        "/api/v1/teams", json={"name": "Support", "member_ids": [b]}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    support = r.json()["id"]
    conv = await new_lead(run, key)
    r = await run.client.get(f"/api/v1/conversations/{conv}", headers=auth(admin))
    sales = r.json()["team_id"]

    r = await run.client.post(
        f"/api/v1/conversations/{conv}/assign",
        json={"assignee_id": None, "team_id": support},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text
    assert r.json()["assignee_id"] == b  # routed within the new team
    (row,) = await updates(run)
    assert (row.aggregate, row.aggregate_id) == ("conversation", conv)
    assert row.actor_id == await operator_id(run, admin)
    assert ConversationUpdated(**row.payload) == ConversationUpdated(
        conversation_id=conv,
        fields=["team_id"],  # type: ignore[arg-type]  # JSON has lists, not tuples
        team_id=support,
        previous_team_id=sales,
        by=row.actor_id,
    )

    # Already in that team: nothing changed, nothing stored.
    r = await run.client.post(
        f"/api/v1/conversations/{conv}/assign",
        json={"assignee_id": None, "team_id": support},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text
    assert len(await updates(run)) == 1
