"""An operator's open consoles close (4401 token_revoked) on every node within moments of a
logout, a password change, a deactivation or a role change made on another node; other
consoles keep receiving. Two app nodes share the database and the bus, as in production."""

import asyncio
import time
from typing import Any

import websockets

from tests.conftest import LiveServer, Running, create_operator, serve_app
from tests.helpers import auth, create_webchat, recv_event, visitor_post, visitor_session
from tests.operators.test_authorization import error_of, operator_id

CLOSE_WITHIN = 3.0  # seconds


async def console(node: LiveServer, token: str) -> websockets.ClientConnection:
    r = await node.client.post("/api/v1/ws-ticket", headers=auth(token))
    assert r.status_code == 201, r.text
    ws = await websockets.connect(f"{node.ws_url}/api/v1/ws?ticket={r.json()['ticket']}")
    while (await recv_event(ws))["type"] != "ready":
        pass  # presence events of consoles opened just before
    return ws


async def closed_with(ws: websockets.ClientConnection) -> tuple[int | None, str, float]:
    """(code, reason, seconds it took) once the server closes the socket; events that
    arrive meanwhile are skipped."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(CLOSE_WITHIN + 2):
            while True:
                await recv_event(ws, CLOSE_WITHIN + 2)
    except websockets.ConnectionClosed as exc:
        rcvd = exc.rcvd
        return (
            rcvd.code if rcvd else None,
            rcvd.reason if rcvd else "",
            time.monotonic() - started,
        )
    except TimeoutError:
        return (None, "still open", time.monotonic() - started)


async def test_revocations_close_the_operators_sockets_on_every_node(live: LiveServer) -> None:
    a = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await a.admin_token()
    tokens = {
        who: await create_operator(a, f"{who}@example.com", "operator")
        for who in ("leaver", "forgetful", "fired", "promoted", "bystander")
    }
    ids = {who: await operator_id(live.client, t) for who, t in tokens.items()}
    key = (await create_webchat(live.client, admin))["public_key"]
    visitor = (await visitor_session(live.client, key, name="Rita"))["visitor_token"]

    async def patch(who: str, body: dict[str, Any]) -> None:
        r = await live.client.patch(f"/api/v1/operators/{ids[who]}", json=body, headers=auth(admin))
        assert r.status_code == 200, r.text

    actions = {
        "leaver": lambda: live.client.post("/api/v1/auth/logout", headers=auth(tokens["leaver"])),
        "forgetful": lambda: patch("forgetful", {"password": "brand-new-pass-8841"}),
        "fired": lambda: patch("fired", {"is_active": False}),
        "promoted": lambda: patch("promoted", {"role": "admin"}),
    }
    async with serve_app(live.ctx.settings) as b:
        sockets = {who: await console(b, t) for who, t in tokens.items()}
        try:
            for who, act in actions.items():
                await act()  # on node A; the console is on node B
                code, reason, took = await closed_with(sockets[who])
                assert (code, reason) == (4401, "token_revoked"), (who, code, reason)
                assert took < CLOSE_WITHIN, (who, took)

            # The REST API agrees, on both nodes.
            for node in (live, b):
                for who in ("leaver", "forgetful"):
                    r = await node.client.get("/api/v1/operators/me", headers=auth(tokens[who]))
                    error_of(r, 401, "token_revoked")
                r = await node.client.get("/api/v1/operators/me", headers=auth(tokens["fired"]))
                error_of(r, 401)
                error_of(
                    await node.client.post("/api/v1/ws-ticket", headers=auth(tokens["fired"])),
                    401,
                )
            # A new role needs no new login: the console reconnects and sees as an admin.
            promoted = await console(b, tokens["promoted"])
            await promoted.close()

            # The bystander's console stayed open and still gets what happens.
            r = await visitor_post(live.client, key, visitor, "anyone there?")
            assert r.status_code == 201, r.text
            while True:
                event = await recv_event(sockets["bystander"], 5)
                if event["type"] == "message.created":
                    break
            assert event["data"]["text"] == "anyone there?"
        finally:
            for ws in sockets.values():
                await ws.close()
