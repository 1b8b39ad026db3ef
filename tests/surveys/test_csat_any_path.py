"""Resolving by any path asks for the rating once (issue 18): the survey is a handler of
conversation.resolved, not a step of the status endpoint."""

from typing import Any

import pytest

from app.inbox.commands import set_status
from app.inbox.models import ConversationStatus
from app.operators.service import Principal
from tests.conftest import Running
from tests.helpers import auth, visitor_post, visitor_session
from tests.surveys.test_csat import csat_channel, rows


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


# An automation or integration resolving with no operator behind it.
SYSTEM = Principal(kind="api_key", id=0, scopes=frozenset())


async def open_chat(run: Running, key: str) -> int:
    token = (await visitor_session(run.client, key))["visitor_token"]
    r = await visitor_post(run.client, key, token, "Help!")
    return int(r.json()["message"]["conversation_id"])


async def resolve_directly(run: Running, conv: int) -> None:
    async with run.ctx.sessions() as session:
        await set_status(session, SYSTEM, conv, ConversationStatus.resolved, None)
        await session.commit()


async def csat_requests(run: Running, conv: int) -> int:
    found = await rows(
        run,
        "SELECT id FROM messages WHERE conversation_id = :conv AND external_id = :key",
        conv=conv,
        key=f"csat/{conv}",
    )
    return len(found)


async def surveys_of(run: Running, conv: int) -> int:
    return len(await rows(run, "SELECT id FROM surveys WHERE conversation_id = :c", c=conv))


async def test_resolving_by_api_and_directly_asks_once_each(run: Running) -> None:
    admin = await run.admin_token()
    key = await csat_channel(run, admin)

    by_api = await open_chat(run, key)
    for _ in range(2):  # twice in a row: asked once
        r = await run.client.post(
            f"/api/v1/conversations/{by_api}/status",
            json={"status": "resolved"},
            headers=auth(admin),
        )
        assert r.status_code == 200, r.text
    assert (await surveys_of(run, by_api), await csat_requests(run, by_api)) == (1, 1)

    directly = await open_chat(run, key)
    await resolve_directly(run, directly)
    await resolve_directly(run, directly)
    assert (await surveys_of(run, directly), await csat_requests(run, directly)) == (1, 1)

    # Reopened and resolved again, by the other path: still the one survey.
    r = await run.client.post(
        f"/api/v1/conversations/{directly}/status", json={"status": "open"}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    r = await run.client.post(
        f"/api/v1/conversations/{directly}/status",
        json={"status": "resolved"},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text
    assert (await surveys_of(run, directly), await csat_requests(run, directly)) == (1, 1)
    assert len(await rows(run, "SELECT id FROM surveys")) == 2
    # Each resolve (not a repeated one) is a stored fact, whatever path it took.
    resolved = await rows(
        run,
        "SELECT aggregate_id, payload FROM domain_events WHERE name = 'conversation.resolved' "
        "ORDER BY id",
    )
    assert [r.aggregate_id for r in resolved] == [by_api, directly, directly]
    assert resolved[1].payload["by"] is None and resolved[2].payload["by"] is not None


async def test_a_channel_without_csat_asks_nothing_on_any_path(run: Running) -> None:
    admin = await run.admin_token()
    key = await csat_channel(run, admin, enabled=False)
    conv = await open_chat(run, key)
    await resolve_directly(run, conv)
    assert (await surveys_of(run, conv), await csat_requests(run, conv)) == (0, 0)
