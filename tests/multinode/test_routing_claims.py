"""Routing without a team-wide turn (issue 22): new leads of two teams arrive at once through
three node processes; each operator's row is claimed on its own, and the limits hold exactly."""

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.helpers import auth, routings_settled, visitor_post, visitor_session
from tests.multinode.test_nodes import login, seed_admin, start_nodes  # noqa: F401

LIMIT = 3
LEADS_PER_TEAM = 40


@pytest.fixture
def backend() -> str:
    return "postgres"


async def _team_with_channel(
    client: httpx.AsyncClient, admin: str, name: str, operators: int
) -> tuple[list[int], str]:
    ops = []
    for i in range(operators):
        r = await client.post(
            "/api/v1/operators",
            json={
                "email": f"{name}{i}@example.com",
                "name": f"{name} {i}",
                "password": "ochre-82-jy",
                "max_open_conversations": LIMIT,
            },
            headers=auth(admin),
        )
        assert r.status_code == 201, r.text
        ops.append(r.json()["id"])
        r = await client.post(
            f"/api/v1/operators/{ops[-1]}/presence",
            json={"presence": "online"},
            headers=auth(admin),
        )
        assert r.status_code == 200, r.text
    r = await client.post(
        "/api/v1/teams", json={"name": name, "member_ids": ops}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/channels",
        json={"type": "webchat", "name": name, "team_id": r.json()["id"]},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    return ops, str(r.json()["public_key"])


async def test_concurrent_new_leads_of_two_teams_across_processes(
    start_nodes: Callable[..., Any],  # noqa: F811
    migrated: str,
) -> None:
    nodes = await start_nodes(3)
    await seed_admin(migrated)
    clients = [httpx.AsyncClient(base_url=n.base, timeout=60) for n in nodes]
    engine = create_async_engine(migrated)
    try:
        admin = await login(clients[0])
        sales, sales_key = await _team_with_channel(clients[0], admin, "sales", 4)
        care, care_key = await _team_with_channel(clients[1], admin, "care", 2)
        leads = [
            (key, (await visitor_session(clients[i % 3], key))["visitor_token"])
            for key in (sales_key, care_key)
            for i in range(LEADS_PER_TEAM)
        ]
        results = await asyncio.gather(
            *(
                visitor_post(clients[i % 3], key, token, f"lead {i}")
                for i, (key, token) in enumerate(leads)
            )
        )
        refused = [r.text for r in results if r.status_code != 201]
        assert not refused, refused
        await routings_settled(engine, len(leads))

        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT c.assignee_id, tm.team_id IS NOT NULL AS in_team, "
                        "c.queued_at IS NOT NULL AS queued "
                        "FROM conversations c LEFT JOIN team_members tm "
                        "ON tm.team_id = c.team_id AND tm.operator_id = c.assignee_id"
                    )
                )
            ).all()
            messages = await conn.scalar(text("SELECT count(*) FROM messages"))
        assert len(rows) == len(leads) and messages == len(leads)
        per_op: dict[int, int] = {}
        for row in rows:
            if row.assignee_id is not None:
                assert row.in_team and not row.queued
                per_op[row.assignee_id] = per_op.get(row.assignee_id, 0) + 1
            else:
                assert row.queued
        # Every operator filled to exactly their limit, never beyond; the rest wait.
        assert per_op == {op: LIMIT for op in sales + care}
        assert sum(1 for r in rows if r.assignee_id is None) == 2 * LEADS_PER_TEAM - 6 * LIMIT
    finally:
        for client in clients:
            await client.aclose()
        await engine.dispose()
