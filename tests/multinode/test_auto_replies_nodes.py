"""Automatic replies across real node processes: a burst of one client's messages spread over
three nodes while the team is closed gets one greeting and one out-of-office reply."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import truncate_all
from tests.helpers import auth, visitor_post, visitor_session
from tests.multinode.test_nodes import Node, login, seed_admin


@pytest.fixture
async def nodes(migrated: str, tmp_path: Path) -> AsyncIterator[list[Node]]:
    """Three nodes without workers (the replies stay in the outbox to be counted); a start
    may take long on a busy machine."""
    started = [Node(migrated, tmp_path, "postgres", n, workers=False) for n in range(3)]
    try:
        await asyncio.gather(*(n.ready(timeout=180) for n in started))
        yield started
    finally:
        for node in started:
            node.stop()
        await truncate_all(migrated)


async def test_one_greeting_and_one_out_of_office_reply_across_nodes(
    nodes: list[Node], migrated: str
) -> None:
    await seed_admin(migrated)
    clients = [httpx.AsyncClient(base_url=n.base) for n in nodes]
    try:
        admin = await login(clients[0])
        team = (
            await clients[0].post("/api/v1/teams", json={"name": "Sales"}, headers=auth(admin))
        ).json()["id"]
        channel = (
            await clients[1].post(
                "/api/v1/channels",
                json={"type": "webchat", "name": "Site", "team_id": team},
                headers=auth(admin),
            )
        ).json()
        r = await clients[2].put(
            f"/api/v1/channels/{channel['id']}/auto-replies",
            json={"greeting": {"en": "Hello"}, "out_of_office": {"en": "Closed"}},
            headers=auth(admin),
        )
        assert r.status_code == 200, r.text
        # Open only three days ago for an hour: closed now.
        weekday = (datetime.now(UTC).isoweekday() - 4) % 7 + 1
        r = await clients[0].put(
            f"/api/v1/teams/{team}/business-hours",
            json={
                "enabled": True,
                "timezone": "UTC",
                "schedule": [{"weekday": weekday, "opens": "10:00", "closes": "11:00"}],
            },
            headers=auth(admin),
        )
        assert r.status_code == 200, r.text

        key = channel["public_key"]
        token = (await visitor_session(clients[0], key))["visitor_token"]
        results = await asyncio.gather(
            *(visitor_post(clients[i % 3], key, token, f"hi {i}", f"c{i}") for i in range(12))
        )
        assert [r.status_code for r in results] == [201] * 12
        engine = create_async_engine(migrated)
        async with engine.connect() as conn:
            sent = dict(
                (
                    await conn.execute(
                        text(
                            "SELECT meta->>'auto_reply', count(*) FROM messages "
                            "WHERE meta ? 'auto_reply' GROUP BY 1"
                        )
                    )
                ).all()
            )
        await engine.dispose()
        assert sent == {"greeting": 1, "out_of_office": 1}
    finally:
        for client in clients:
            await client.aclose()
