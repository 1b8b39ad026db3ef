"""Ending a visitor's widget sessions: POST /api/v1/contacts/{id}/revoke-widget-sessions.

Old visitor tokens answer 401 token_revoked on every widget route (also on a node that had
the contact's token version cached), an open widget socket is closed with 4401 and a new
one with the old token is refused; other visitors are untouched and a new session works."""

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any

import websockets
from sqlalchemy import text

from tests.conftest import LiveServer, Running, running_app
from tests.helpers import auth, create_webchat, visitor_post, visitor_session
from tests.webchat.test_bad_input import error_of


async def revoke(run: Running, token: str, contact_id: int) -> Any:
    return await run.client.post(
        f"/api/v1/contacts/{contact_id}/revoke-widget-sessions", headers=auth(token)
    )


async def widget_calls(run: Running, key: str, token: str, n: int) -> list[int]:
    """A post and a history read with the token: their statuses."""
    posted = await visitor_post(run.client, key, token, f"message {n}", f"m-{n}")
    read = await run.client.get(f"/widget/v1/{key}/messages", headers=auth(token))
    return [posted.status_code, read.status_code]


async def test_revoked_tokens_get_401_and_a_new_session_works(run: Running) -> None:
    admin = await run.admin_token()
    operator = await run.operator_token()
    channel = await create_webchat(run.client, admin)
    key, secret = channel["public_key"], channel["generated_credentials"]["identity_secret"]
    user = "customer-7"
    proof = hmac.new(secret.encode(), user.encode(), hashlib.sha256).hexdigest()
    # A signed-in site user with the widget open on two devices, and somebody else.
    phone = await visitor_session(run.client, key, identifier=user, identifier_hash=proof)
    laptop = await visitor_session(run.client, key, identifier=user, identifier_hash=proof)
    bystander = await visitor_session(run.client, key, name="Bea")
    contact_id = phone["contact_id"]
    assert laptop["contact_id"] == contact_id != bystander["contact_id"]
    for n, s in enumerate((phone, laptop, bystander)):
        assert await widget_calls(run, key, s["visitor_token"], n) == [201, 200]

    r = await revoke(run, operator, contact_id)  # operators may do it (contacts:write)
    assert r.status_code == 204, r.text

    async with run.ctx.sessions() as session:
        stored = await session.scalar(text("SELECT count(*) FROM messages"))
    for s in (phone, laptop):
        token = s["visitor_token"]
        error_of(
            await visitor_post(run.client, key, token, "still here?", "late"), 401, "token_revoked"
        )
        r = await run.client.get(f"/widget/v1/{key}/messages", headers=auth(token))
        error_of(r, 401, "token_revoked")
    async with run.ctx.sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM messages")) == stored
    # Somebody else's session goes on.
    assert await widget_calls(run, key, bystander["visitor_token"], 10) == [201, 200]

    # Signing in again starts a new session: same contact, same history.
    again = await visitor_session(run.client, key, identifier=user, identifier_hash=proof)
    assert again["contact_id"] == contact_id
    assert await widget_calls(run, key, again["visitor_token"], 11) == [201, 200]
    r = await run.client.get(f"/widget/v1/{key}/messages", headers=auth(again["visitor_token"]))
    assert {"message 0", "message 1", "message 11"} <= {m["text"] for m in r.json()["items"]}
    # ... and the old tokens stay revoked.
    r = await run.client.get(f"/widget/v1/{key}/messages", headers=auth(phone["visitor_token"]))
    error_of(r, 401, "token_revoked")

    # A second revocation ends the new session too; an unknown contact is a 404.
    assert (await revoke(run, admin, contact_id)).status_code == 204
    r = await run.client.get(f"/widget/v1/{key}/messages", headers=auth(again["visitor_token"]))
    error_of(r, 401, "token_revoked")
    error_of(await revoke(run, admin, 999_999), 404)

    # Who did it, from where: in the audit log.
    r = await run.client.get(
        "/api/v1/audit-log",
        params={"action": "contact.revoke_widget_sessions"},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text
    entries = r.json()["items"]
    assert [(e["target_id"], e["actor_kind"]) for e in entries] == [
        (contact_id, "operator"),
        (contact_id, "operator"),
    ]


async def test_a_revocation_reaches_another_node_before_its_cache_expires(
    run: Running,
) -> None:
    """Each node keeps a contact's token version for a few seconds; the revocation's bus
    event clears it on every node, so the other node refuses the token within moments."""
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    visitor = await visitor_session(run.client, key, name="Nell")
    token = visitor["visitor_token"]
    async with running_app(run.ctx.settings, truncate=False) as other:
        # The other node reads (and keeps) the contact's token version.
        assert await widget_calls(other, key, token, 1) == [201, 200]
        assert (await revoke(run, admin, visitor["contact_id"])).status_code == 204
        revoked_at = time.monotonic()
        while True:
            r = await other.client.get(f"/widget/v1/{key}/messages", headers=auth(token))
            if r.status_code == 401:
                break
            assert r.status_code == 200, r.text
            assert time.monotonic() - revoked_at < 2.0, "the other node still accepts the token"
            await asyncio.sleep(0.02)
        error_of(r, 401, "token_revoked")
        assert time.monotonic() - revoked_at < 2.0 < other.ctx.settings.visitor_token_ttl_seconds


async def _close_code(ws: websockets.ClientConnection, timeout: float = 5.0) -> int | None:
    try:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    except websockets.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


async def test_revocation_closes_the_open_widget_socket_and_refuses_the_old_token(
    live: LiveServer,
) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await run.admin_token()
    key = (await create_webchat(live.client, admin))["public_key"]
    visitor = await visitor_session(live.client, key, name="Wes")
    other = await visitor_session(live.client, key, name="Ola")
    url = f"{live.ws_url}/widget/v1/{key}/ws?token="

    async def next_event(ws: websockets.ClientConnection) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame["type"] == "batch":  # several events in one frame
            [frame] = frame["events"]
        return frame

    async def ready(token: str) -> websockets.ClientConnection:
        ws = await websockets.connect(url + token, open_timeout=5)
        assert (await next_event(ws))["type"] == "ready"
        return ws

    revoked_ws = await ready(visitor["visitor_token"])
    other_ws = await ready(other["visitor_token"])
    try:
        assert (await revoke(run, admin, visitor["contact_id"])).status_code == 204
        assert await _close_code(revoked_ws) == 4401
        # A new socket with the old token is refused the same way.
        async with websockets.connect(url + visitor["visitor_token"], open_timeout=5) as ws:
            assert await _close_code(ws) == 4401
        # The other visitor's socket stayed open and still gets its messages.
        r = await visitor_post(live.client, key, other["visitor_token"], "still connected")
        assert r.status_code == 201, r.text
        event = await next_event(other_ws)
        assert event["type"] == "message.created"
        assert event["data"]["text"] == "still connected"
        # A new session of the revoked visitor connects.
        fresh = await visitor_session(live.client, key, name="Wes")
        await (await ready(fresh["visitor_token"])).close()
    finally:
        await other_ws.close()
        await revoked_ws.close()


async def test_a_post_checks_the_version_in_its_own_statement_not_the_cache(
    run: Running,
) -> None:
    """A widget post reads the token version in the ingest's statement: a revocation this
    process has not heard of (no bus event, its cached version still fresh) is refused at
    once, and the message is not stored. Other widget routes keep the cached check."""
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    visitor = await visitor_session(run.client, key, name="Ivo")
    token = visitor["visitor_token"]
    assert (await visitor_post(run.client, key, token, "first", "c-1")).status_code == 201
    async with run.ctx.sessions() as session:
        # Behind the process's back: no contact.sessions_revoked event, the cache keeps 0.
        await session.execute(
            text("UPDATE contacts SET visitor_token_version = visitor_token_version + 1")
        )
        await session.commit()
    stored = await _message_count(run)
    error_of(await visitor_post(run.client, key, token, "second", "c-2"), 401, "token_revoked")
    assert await _message_count(run) == stored
    # The refusal taught the cache: the history read, which trusts it, refuses too.
    r = await run.client.get(f"/widget/v1/{key}/messages", headers=auth(token))
    error_of(r, 401, "token_revoked")
    # A contact that is gone: the token is refused, and no contact is made for it.
    other = await visitor_session(run.client, key, name="Gone")
    async with run.ctx.sessions() as session:
        await session.execute(
            text("DELETE FROM contacts WHERE id = :id"), {"id": other["contact_id"]}
        )
        await session.commit()
        contacts = await session.scalar(text("SELECT count(*) FROM contacts"))
    r = await visitor_post(run.client, key, other["visitor_token"], "hello?", "g-1")
    error_of(r, 401, "invalid_token")
    async with run.ctx.sessions() as session:
        assert await session.scalar(text("SELECT count(*) FROM contacts")) == contacts
    assert await _message_count(run) == stored


async def _message_count(run: Running) -> int:
    async with run.ctx.sessions() as session:
        return int(await session.scalar(text("SELECT count(*) FROM messages")) or 0)
