"""Read receipts on web chat: the widget says which of our messages it has shown, and the
operator's console sees them turn "read" (message.updated); another visitor's receipt
changes nothing of this one's."""

import json
from typing import Any

import websockets
from sqlalchemy import text

from tests.conftest import LiveServer, Running, create_operator
from tests.helpers import auth, create_webchat, visitor_post, visitor_session
from tests.webchat.test_end_to_end import next_event


async def state_of(live: LiveServer, message_id: int) -> str:
    async with live.ctx.sessions() as s:
        return str(
            await s.scalar(
                text("SELECT delivery_state FROM messages WHERE id = :id"), {"id": message_id}
            )
        )


async def test_the_visitor_reading_a_reply_shows_read_in_the_console(live: LiveServer) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    key = (await create_webchat(live.client, admin))["public_key"]
    vera = (await visitor_session(live.client, key, name="Vera"))["visitor_token"]
    yuri = (await visitor_session(live.client, key, name="Yuri"))["visitor_token"]
    r = await visitor_post(live.client, key, vera, "hello")
    conv_id = r.json()["message"]["conversation_id"]
    async with (
        websockets.connect(f"{live.ws_url}/api/v1/ws?token={admin}") as console,
        websockets.connect(f"{live.ws_url}/widget/v1/{key}/ws?token={vera}") as widget,
        websockets.connect(f"{live.ws_url}/widget/v1/{key}/ws?token={yuri}") as other,
    ):
        for ws in (console, widget, other):
            await next_event(ws, "ready")
        r = await live.client.post(
            f"/api/v1/conversations/{conv_id}/messages",
            json={"text": "Hi Vera"},
            headers=auth(admin),
        )
        assert r.status_code == 201, r.text
        reply: dict[str, Any] = (await next_event(widget, "message.created"))["data"]
        assert reply["text"] == "Hi Vera"
        # Yuri claims to have read everything: not his messages, nothing changes.
        await other.send(json.dumps({"type": "read", "message_id": reply["id"] + 1000}))
        await other.send("ping")
        await next_event(other, "pong")
        assert await state_of(live, reply["id"]) == "sent"
        await widget.send(json.dumps({"type": "read", "message_id": reply["id"]}))
        while True:
            event = await next_event(console, "message.updated")
            if event["data"]["id"] == reply["id"] and event["data"]["delivery_state"] == "read":
                break
    assert await state_of(live, reply["id"]) == "read"
