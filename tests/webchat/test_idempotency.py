"""A widget message resent with the same client_message_id is stored once."""

import asyncio

from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import create_webchat, visitor_post, visitor_session


async def _counts(run: Running) -> tuple[int, int]:
    async with run.ctx.sessions() as session:
        messages = await session.scalar(text("SELECT count(*) FROM messages"))
        touchpoints = await session.scalar(text("SELECT count(*) FROM touchpoints"))
    return int(messages or 0), int(touchpoints or 0)


async def test_same_client_id_twice_is_one_message(run: Running) -> None:
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    token = (await visitor_session(run.client, key, name="Anna"))["visitor_token"]

    first = await visitor_post(run.client, key, token, "Hello", "msg-1")
    assert first.status_code == 201, first.text
    assert first.json()["duplicate"] is False

    second = await visitor_post(run.client, key, token, "Hello", "msg-1")
    assert second.status_code == 201, second.text
    assert second.json()["duplicate"] is True
    assert second.json()["message"]["id"] == first.json()["message"]["id"]

    assert await _counts(run) == (1, 1)

    # A different client id is a different message.
    third = await visitor_post(run.client, key, token, "Hello", "msg-2")
    assert third.json()["duplicate"] is False
    assert third.json()["message"]["id"] != first.json()["message"]["id"]
    assert await _counts(run) == (2, 2)


async def test_same_client_id_concurrently_is_one_message(run: Running) -> None:
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    token = (await visitor_session(run.client, key))["visitor_token"]
    # Warm the visitor's conversation up, then race on a fresh id; also race on the
    # very first message of another visitor (no conversation yet).
    await visitor_post(run.client, key, token, "first", "warm-up")
    token2 = (await visitor_session(run.client, key))["visitor_token"]

    responses = await asyncio.gather(
        *(visitor_post(run.client, key, token, "same", "race-1") for _ in range(8)),
        *(visitor_post(run.client, key, token2, "same", "race-2") for _ in range(8)),
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    for group in (responses[:8], responses[8:]):
        ids = {r.json()["message"]["id"] for r in group}
        assert len(ids) == 1
        assert sum(not r.json()["duplicate"] for r in group) == 1

    assert await _counts(run) == (3, 3)
