"""A console that was away (a dropped connection, a lost bus message) catches up from the
database: reconnecting with after=<last message id> replays what it missed, in order."""

import websockets

from tests.conftest import LiveServer, Running, create_operator
from tests.helpers import create_webchat, visitor_post, visitor_session
from tests.webchat.test_end_to_end import next_event


async def test_reconnect_replays_missed_messages(live: LiveServer) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    key = (await create_webchat(live.client, admin))["public_key"]
    token = (await visitor_session(live.client, key))["visitor_token"]

    async with websockets.connect(f"{live.ws_url}/api/v1/ws?token={admin}") as ws:
        await next_event(ws, "ready")
        await visitor_post(live.client, key, token, "first")
        last_seen = (await next_event(ws, "message.created"))["data"]["id"]

    # Offline: three messages arrive. A second console watches them go out live, so the
    # reconnect below comes after their fan-out (as for a console that really was away).
    async with websockets.connect(f"{live.ws_url}/api/v1/ws?token={admin}") as watcher:
        await next_event(watcher, "ready")
        missed = [
            (await visitor_post(live.client, key, token, f"missed {i}")).json()["message"]["id"]
            for i in range(3)
        ]
        seen = [(await next_event(watcher, "message.created"))["data"]["id"] for _ in range(3)]
        assert seen == missed
    async with websockets.connect(f"{live.ws_url}/api/v1/ws?token={admin}&after={last_seen}") as ws:
        replayed = []
        while True:
            event = await next_event(ws, "message.created") if len(replayed) < 3 else None
            if event is None:
                break
            assert event["replay"] is True
            replayed.append(event["data"]["id"])
        assert replayed == missed
        ready = await next_event(ws, "ready")
        assert ready["more"] is False

    # The widget catches up the same way.
    async with websockets.connect(
        f"{live.ws_url}/widget/v1/{key}/ws?token={token}&after={last_seen}"
    ) as ws:
        got = [(await next_event(ws, "message.created"))["data"]["id"] for _ in range(3)]
        assert got == missed
