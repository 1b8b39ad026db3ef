"""Typing indicators: the visitor's reaches the operators' consoles and the operator's
reaches the widget, across nodes (the bus), throttled, and never stored; an operator
typing in a Telegram chat: tests/telegram/test_typing.py."""

import asyncio
import json
from typing import Any

import websockets
from sqlalchemy import text

from tests.conftest import LiveServer, Running, create_operator, serve_app
from tests.helpers import auth, create_webchat, recv_event, visitor_post, visitor_session
from tests.webchat.test_end_to_end import next_event


async def events_within(ws: Any, seconds: float) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            got.append(await recv_event(ws, left))
        except TimeoutError:
            break
    return got


async def count_messages(live: LiveServer) -> int:
    async with live.ctx.sessions() as s:
        return int(await s.scalar(text("SELECT count(*) FROM messages")) or 0)


async def test_typing_both_ways_across_nodes(live: LiveServer) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    key = (await create_webchat(live.client, admin))["public_key"]
    token = (await visitor_session(live.client, key, name="Vera"))["visitor_token"]
    r = await visitor_post(live.client, key, token, "hello")
    conv_id = r.json()["message"]["conversation_id"]
    stored = await count_messages(live)
    async with serve_app(live.ctx.settings) as other:
        # The visitor on this node, the operator's console on the other one.
        widget_url = f"{live.ws_url}/widget/v1/{key}/ws?token={token}"
        console_url = f"{other.ws_url}/api/v1/ws?token={admin}"
        async with (
            websockets.connect(widget_url) as widget,
            websockets.connect(console_url) as console,
        ):
            await next_event(widget, "ready")
            await next_event(console, "ready")
            for _ in range(5):  # a burst of keystrokes: one signal goes out
                await widget.send(json.dumps({"type": "typing"}))
            seen = [e for e in await events_within(console, 1.5) if e["type"] == "typing"]
            assert [e["data"] for e in seen] == [{"conversation_id": conv_id, "by": "contact"}]

            for _ in range(5):
                await console.send(json.dumps({"type": "typing", "conversation_id": conv_id}))
            seen = [e for e in await events_within(widget, 1.5) if e["type"] == "typing"]
            assert [e["data"] for e in seen] == [{"by": "operator"}]

            # A conversation that is not theirs (no such one here) says nothing to anyone;
            # junk frames are ignored and the socket lives on.
            await console.send(json.dumps({"type": "typing", "conversation_id": 999_999}))
            await console.send("not json")
            await console.send(json.dumps(["typing"]))
            assert not [e for e in await events_within(widget, 1.0) if e["type"] == "typing"]
            await console.send("ping")
            await next_event(console, "pong")
    assert await count_messages(live) == stored  # nothing stored


async def test_typing_stays_within_who_sees_the_conversation(live: LiveServer) -> None:
    """A team's chat: an operator outside the team neither hears the visitor type nor can
    signal typing to them; an admin (sees everything) hears it."""
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    outsider = await create_operator(run, "out@example.com", "operator")
    r = await live.client.post("/api/v1/teams", json={"name": "Sales"}, headers=auth(admin))
    assert r.status_code == 201, r.text
    r = await live.client.post(
        "/api/v1/channels",
        json={"type": "webchat", "name": "Sales site", "team_id": r.json()["id"]},
        headers=auth(admin),
    )
    key = r.json()["public_key"]
    token = (await visitor_session(live.client, key, name="Vera"))["visitor_token"]
    r = await visitor_post(live.client, key, token, "hello")
    conv_id = r.json()["message"]["conversation_id"]
    async with (
        websockets.connect(f"{live.ws_url}/widget/v1/{key}/ws?token={token}") as widget,
        websockets.connect(f"{live.ws_url}/api/v1/ws?token={admin}") as boss,
        websockets.connect(f"{live.ws_url}/api/v1/ws?token={outsider}") as out,
    ):
        for ws in (widget, boss, out):
            await next_event(ws, "ready")
        await out.send(json.dumps({"type": "typing", "conversation_id": conv_id}))
        assert not [e for e in await events_within(widget, 1.0) if e["type"] == "typing"]
        await widget.send(json.dumps({"type": "typing"}))
        await next_event(boss, "typing")
        assert not [e for e in await events_within(out, 1.0) if e["type"] == "typing"]
