"""The whole path over real HTTP and WebSockets: widget -> inbox -> operator -> widget."""

import time

import websockets

from tests.conftest import LiveServer, create_operator
from tests.helpers import auth, create_webchat, recv_event, visitor_post, visitor_session


async def next_event(ws: websockets.ClientConnection, type_: str, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        event = await recv_event(ws, max(0.01, deadline - time.monotonic()))
        if event["type"] == type_:
            return event


async def test_visitor_to_operator_and_back(live: LiveServer) -> None:
    from tests.conftest import Running

    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    channel = await create_webchat(live.client, admin)
    key = channel["public_key"]
    session = await visitor_session(live.client, key, name="Anna")
    visitor_token = session["visitor_token"]

    async with (
        websockets.connect(f"{live.ws_url}/api/v1/ws?token={admin}") as op_ws,
        websockets.connect(f"{live.ws_url}/widget/v1/{key}/ws?token={visitor_token}") as v_ws,
    ):
        await next_event(op_ws, "ready")
        await next_event(v_ws, "ready")

        r = await visitor_post(live.client, key, visitor_token, "Hello, where is my order?", "c1")
        assert r.status_code == 201, r.text
        inbound = r.json()["message"]

        event = await next_event(op_ws, "message.created")
        assert event["data"]["id"] == inbound["id"]
        assert event["data"]["text"] == "Hello, where is my order?"
        assert event["data"]["direction"] == "inbound"
        conversation_id = event["data"]["conversation_id"]
        assert event["conversation"]["contact"]["name"] == "Anna"

        r = await live.client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": "It ships tomorrow."},
            headers=auth(admin),
        )
        assert r.status_code == 201, r.text
        reply_id = r.json()["id"]
        assert r.json()["delivery_state"] == "queued"

        # The visitor's socket echoes their own message first, then gets the reply once sent.
        got = await next_event(v_ws, "message.created")
        assert got["data"]["id"] == inbound["id"]
        got = await next_event(v_ws, "message.created")
        assert got["data"]["id"] == reply_id
        assert got["data"]["text"] == "It ships tomorrow."
        assert got["data"]["direction"] == "outbound"

        # The operator sees the delivery state move to sent.
        updated = await next_event(op_ws, "message.updated")
        assert updated["data"]["id"] == reply_id
        assert updated["data"]["delivery_state"] == "sent"

    # History after a cursor, as the widget reads it after a reconnect.
    r = await live.client.get(
        f"/widget/v1/{key}/messages", params={"after": inbound["id"]}, headers=auth(visitor_token)
    )
    assert [m["id"] for m in r.json()["items"]] == [reply_id]


async def test_private_note_never_reaches_visitor(live: LiveServer) -> None:
    from tests.conftest import Running

    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    key = (await create_webchat(live.client, admin))["public_key"]
    token = (await visitor_session(live.client, key))["visitor_token"]
    r = await visitor_post(live.client, key, token, "hi")
    conv = r.json()["message"]["conversation_id"]
    async with websockets.connect(f"{live.ws_url}/widget/v1/{key}/ws?token={token}") as v_ws:
        await next_event(v_ws, "ready")
        r = await live.client.post(
            f"/api/v1/conversations/{conv}/messages",
            json={"text": "internal: VIP client", "private": True},
            headers=auth(admin),
        )
        assert r.status_code == 201 and r.json()["private"] is True
        r = await live.client.post(
            f"/api/v1/conversations/{conv}/messages", json={"text": "Hello!"}, headers=auth(admin)
        )
        seen = []
        while not seen or seen[-1] != "Hello!":
            seen.append((await next_event(v_ws, "message.created"))["data"]["text"])
        assert "internal: VIP client" not in seen
    r = await live.client.get(f"/widget/v1/{key}/messages", headers=auth(token))
    assert [m["text"] for m in r.json()["items"]] == ["hi", "Hello!"]
