"""Many visitors writing at once over real HTTP: nothing lost, nothing doubled."""

import asyncio

from sqlalchemy import text

from tests.conftest import LiveServer, Running, create_operator
from tests.helpers import create_webchat, visitor_post, visitor_session

VISITORS = 50
PER_VISITOR = 4


async def _admin(live: LiveServer) -> str:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    return await create_operator(run, "admin@example.com", "admin")


async def _scalar(live: LiveServer, sql: str) -> int:
    async with live.ctx.sessions() as session:
        return int(await session.scalar(text(sql)) or 0)


async def test_200_messages_from_50_visitors_concurrently(live: LiveServer) -> None:
    admin = await _admin(live)
    key = (await create_webchat(live.client, admin))["public_key"]
    sessions = await asyncio.gather(
        *(visitor_session(live.client, key, name=f"v{i}") for i in range(VISITORS))
    )
    tokens = [s["visitor_token"] for s in sessions]
    contact_ids = {s["contact_id"] for s in sessions}
    assert len(contact_ids) == VISITORS

    responses = await asyncio.gather(
        *(
            visitor_post(live.client, key, token, f"v{v} m{n}", f"m{n}")
            for n in range(PER_VISITOR)
            for v, token in enumerate(tokens)
        )
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses[:5]]
    assert not any(r.json()["duplicate"] for r in responses)
    ids = [r.json()["message"]["id"] for r in responses]
    assert len(set(ids)) == VISITORS * PER_VISITOR

    total = VISITORS * PER_VISITOR
    assert await _scalar(live, "SELECT count(*) FROM messages") == total
    assert (
        await _scalar(
            live,
            "SELECT count(*) FROM (SELECT DISTINCT channel_account_id, external_id "
            "FROM messages) d",
        )
        == total
    )
    # One 'message' touchpoint per message, and no other touchpoint on a message.
    assert await _scalar(live, "SELECT count(*) FROM touchpoints WHERE kind = 'message'") == total
    assert (
        await _scalar(
            live,
            "SELECT count(*) FROM messages m WHERE (SELECT count(*) FROM touchpoints t "
            "WHERE t.message_id = m.id AND t.kind = 'message') <> 1",
        )
        == 0
    )
    async with live.ctx.sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT c.contact_id, count(*) AS n, min(c.unread_count), "
                    "max(c.unread_count), min((SELECT count(*) FROM messages m "
                    "WHERE m.conversation_id = c.id)) FROM conversations c GROUP BY c.contact_id"
                )
            )
        ).all()
    assert {r[0] for r in rows} == contact_ids
    for contact_id, conversations, min_unread, max_unread, stored in rows:
        assert conversations == 1, contact_id
        assert min_unread == max_unread == PER_VISITOR, contact_id
        assert stored == PER_VISITOR, contact_id


async def test_first_messages_of_one_new_visitor_concurrently(live: LiveServer) -> None:
    admin = await _admin(live)
    key = (await create_webchat(live.client, admin))["public_key"]
    session = await visitor_session(live.client, key, name="Burst")
    assert session["conversation_id"] is None  # no conversation until the first message
    token = session["visitor_token"]

    responses = await asyncio.gather(
        *(visitor_post(live.client, key, token, f"hello {n}", f"first-{n}") for n in range(10))
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    conversation_ids = {r.json()["message"]["conversation_id"] for r in responses}
    assert len(conversation_ids) == 1

    assert await _scalar(live, "SELECT count(*) FROM contacts") == 1
    assert await _scalar(live, "SELECT count(*) FROM contact_identities") == 1
    assert await _scalar(live, "SELECT count(*) FROM conversations") == 1
    assert await _scalar(live, "SELECT count(*) FROM messages") == 10
    assert await _scalar(live, "SELECT unread_count FROM conversations") == 10


async def test_brand_new_signed_in_user_on_two_devices_concurrently(live: LiveServer) -> None:
    """The identity upsert itself races: the same identifier opens sessions at once."""
    admin = await _admin(live)
    channel = await create_webchat(live.client, admin)
    key = channel["public_key"]
    secret = channel["generated_credentials"]["identity_secret"]
    from connectors.webchat.connector import identity_hash

    body = {"identifier": "user-42", "identifier_hash": identity_hash(secret, "user-42")}
    sessions = await asyncio.gather(*(visitor_session(live.client, key, **body) for _ in range(10)))
    tokens = [s["visitor_token"] for s in sessions]
    assert len({s["contact_id"] for s in sessions}) == 1
    responses = await asyncio.gather(
        *(visitor_post(live.client, key, t, f"hi {n}", f"d{n}") for n, t in enumerate(tokens))
    )
    assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
    assert await _scalar(live, "SELECT count(*) FROM contacts") == 1
    assert await _scalar(live, "SELECT count(*) FROM conversations") == 1
