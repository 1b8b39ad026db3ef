"""A world for automation tests: an admin, a web chat and a client's conversation. The
background automation worker sleeps (a long tick) so each test runs the rules itself."""

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import auth, create_webchat, visitor_post, visitor_session

CAP = 4  # automated actions a conversation takes a minute in these tests


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"automation_tick_seconds": 3600, "automation_max_actions_per_minute": CAP}


@dataclass
class World:
    run: Running
    admin: str
    key: str
    visitor: str
    conversation_id: int

    async def say(self, words: str) -> None:
        for _ in range(5):  # a 503 conflict_retry is resent, as widget.js does
            r = await visitor_post(self.run.client, self.key, self.visitor, words)
            if r.status_code != 503:
                break
            await asyncio.sleep(0.1)
        assert r.status_code == 201, r.text

    async def rule(self, **body: Any) -> dict[str, Any]:
        r = await self.run.client.post(
            "/api/v1/automation-rules", json={"name": "r", **body}, headers=auth(self.admin)
        )
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    async def messages(self) -> list[dict[str, Any]]:
        r = await self.run.client.get(
            f"/api/v1/conversations/{self.conversation_id}/messages?limit=100",
            headers=auth(self.admin),
        )
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    async def conversation(self) -> dict[str, Any]:
        r = await self.run.client.get(
            f"/api/v1/conversations/{self.conversation_id}", headers=auth(self.admin)
        )
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.run.ctx.sessions() as session:
            value = await session.scalar(text(sql), params)
            await session.commit()
            return value


@pytest.fixture
async def world(run: Running) -> World:
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    visitor = (await visitor_session(run.client, key))["visitor_token"]
    r = await visitor_post(run.client, key, visitor, "Hello")
    assert r.status_code == 201, r.text
    r = await run.client.get("/api/v1/conversations", headers=auth(admin))
    conversation_id = r.json()["items"][0]["id"]
    await settle(run)  # what happened before the test's rules fires nothing
    return World(run, admin, key, visitor, conversation_id)


async def settle(run: Running) -> None:
    """Run the rules until every stored event is handled (a reader waits for transactions
    still running anywhere on the server, so one round may not see them all)."""
    from app.automation import engine

    # Patient: any long transaction on the shared server (a DROP DATABASE elsewhere) holds
    # the reader's horizon back until it ends.
    gaps: dict[int, int] = {}  # one reading loop's (app.events.store)
    for _ in range(2400):
        await engine.drain(run.ctx, gaps)
        async with run.ctx.sessions() as session:
            behind = await session.scalar(
                text(
                    "SELECT coalesce(max(id), 0) > coalesce((SELECT last_event_id FROM "
                    "event_consumers WHERE name = 'automation'), 0) FROM domain_events"
                )
            )
        if not behind:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the automation consumer never caught up")


async def visible(world: World) -> None:
    """Wait until the events after the automation consumer's position have no gap in ids (a
    reader stops at one that may still fill, app/events/store.py), so concurrent readers all
    get the same batch."""
    for _ in range(2400):
        gaps = await world.scalar(
            "WITH pos AS (SELECT coalesce((SELECT last_event_id FROM event_consumers "
            "WHERE name = 'automation'), 0) AS p) "
            "SELECT coalesce(max(id) - (SELECT p FROM pos), 0) - count(*) "
            "FROM domain_events WHERE id > (SELECT p FROM pos)"
        )
        if gaps == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("a gap in event ids stayed open")
