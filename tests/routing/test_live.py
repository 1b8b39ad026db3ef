"""Consoles see routing live: opening the console puts the operator online, a new lead is
assigned to them and the assignment arrives on their WebSocket; closing it goes offline."""

import asyncio

import websockets
from sqlalchemy import text

from tests.conftest import LiveServer, Running, create_operator
from tests.helpers import auth, create_webchat, visitor_post, visitor_session
from tests.webchat.test_end_to_end import next_event


async def presence_of(live: LiveServer, email: str) -> str:
    async with live.ctx.sessions() as s:
        return str(
            await s.scalar(text("SELECT presence FROM operators WHERE email = :e"), {"e": email})
        )


async def test_console_presence_and_live_assignment(live: LiveServer) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    op = await create_operator(run, "op@example.com", "operator")
    key = (await create_webchat(live.client, admin))["public_key"]
    assert await presence_of(live, "op@example.com") == "offline"

    async with websockets.connect(f"{live.ws_url}/api/v1/ws?token={op}") as ws:
        await next_event(ws, "ready")
        assert await presence_of(live, "op@example.com") == "online"
        token = (await visitor_session(live.client, key))["visitor_token"]
        r = await visitor_post(live.client, key, token, "I want to buy")
        conv = r.json()["message"]["conversation_id"]
        event = await next_event(ws, "conversation.assigned")
        assert event["data"]["id"] == conv
        me = await live.client.get("/api/v1/operators/me", headers=auth(op))
        assert event["data"]["assignee_id"] == me.json()["id"]

    for _ in range(100):  # the server notices the close asynchronously
        if await presence_of(live, "op@example.com") == "offline":
            break
        await asyncio.sleep(0.02)
    assert await presence_of(live, "op@example.com") == "offline"
    # Released on going offline (team default): back in the queue, nobody online. The
    # release runs right after the presence change commits, so give it a moment.
    for _ in range(100):
        async with live.ctx.sessions() as s:
            assignee = await s.scalar(
                text("SELECT assignee_id FROM conversations WHERE id = :i"), {"i": conv}
            )
        if assignee is None:
            break
        await asyncio.sleep(0.02)
    assert assignee is None
