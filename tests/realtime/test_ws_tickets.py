"""WebSocket tickets: POST /api/v1/ws-ticket and POST /widget/v1/{key}/ws-ticket trade a
bearer token for a ticket that opens one socket, once, within seconds, on any node; no
reusable credential needs to be in the socket's URL."""

import asyncio
import hashlib
from typing import Any

import httpx
import websockets
from sqlalchemy import text

from tests.conftest import LiveServer, Running, serve_app
from tests.helpers import auth, create_webchat, recv_event, visitor_session
from tests.operators.test_authorization import error_of

Outcome = str


async def outcome(url: str) -> Outcome:
    """'ready', or 'closed <code> <reason>'."""
    async with websockets.connect(url, open_timeout=5) as ws:
        try:
            while (await recv_event(ws, 10))["type"] != "ready":
                pass
            return "ready"
        except websockets.ConnectionClosed as exc:
            assert exc.rcvd is not None
            return f"closed {exc.rcvd.code} {exc.rcvd.reason}"


async def ticket(client: httpx.AsyncClient, path: str, token: str) -> dict[str, Any]:
    r = await client.post(path, headers=auth(token))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    assert set(data) == {"ticket", "expires_in"} and 0 < data["expires_in"] <= 60
    return data


async def test_a_ticket_opens_one_socket_once(live: LiveServer) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    client = live.client
    admin = await run.admin_token()
    operator = await run.operator_token()
    key = (await create_webchat(client, admin))["public_key"]
    other_key = (await create_webchat(client, admin))["public_key"]
    visitor = (await visitor_session(client, key, name="Ida"))["visitor_token"]
    operator_ws = f"{live.ws_url}/api/v1/ws"
    widget_ws = f"{live.ws_url}/widget/v1/{key}/ws"

    # Operator: a ticket works once; it is not the token, and only its hash is stored.
    t = (await ticket(client, "/api/v1/ws-ticket", operator))["ticket"]
    assert t not in (operator, admin) and len(t) >= 40
    async with live.ctx.sessions() as session:
        stored = (await session.execute(text("SELECT ticket_hash, claims FROM ws_tickets"))).all()
    assert [row[0] for row in stored] == [hashlib.sha256(t.encode()).hexdigest()]
    assert t not in str(stored) and operator not in str(stored)
    assert await outcome(f"{operator_ws}?ticket={t}&after=0") == "ready"
    assert await outcome(f"{operator_ws}?ticket={t}") == "closed 4401 invalid_ticket"

    # Visitor: the same, on its own widget only.
    path = f"/widget/v1/{key}/ws-ticket"
    v = (await ticket(client, path, visitor))["ticket"]
    assert await outcome(f"{widget_ws}?ticket={v}&after=0") == "ready"
    assert await outcome(f"{widget_ws}?ticket={v}") == "closed 4401 invalid_ticket"
    v = (await ticket(client, path, visitor))["ticket"]
    other_ws = f"{live.ws_url}/widget/v1/{other_key}/ws"
    assert await outcome(f"{other_ws}?ticket={v}") == "closed 4401 invalid_ticket"
    assert await outcome(f"{widget_ws}?ticket={v}") == "closed 4401 invalid_ticket"  # spent

    # A ticket opens only its own kind of socket (and is spent by trying).
    v = (await ticket(client, path, visitor))["ticket"]
    assert await outcome(f"{operator_ws}?ticket={v}") == "closed 4401 invalid_ticket"
    t = (await ticket(client, "/api/v1/ws-ticket", operator))["ticket"]
    assert await outcome(f"{widget_ws}?ticket={t}") == "closed 4401 invalid_ticket"
    for bad in ("", "x", "y" * 500):
        assert (await outcome(f"{operator_ws}?ticket={bad}")).startswith("closed 4401")
        assert (await outcome(f"{widget_ws}?ticket={bad}")).startswith("closed 4401")

    # Expired: judged by the database's clock.
    t = (await ticket(client, "/api/v1/ws-ticket", operator))["ticket"]
    async with live.ctx.sessions() as session:
        await session.execute(text("UPDATE ws_tickets SET expires_at = now() - interval '1 s'"))
        await session.commit()
    assert await outcome(f"{operator_ws}?ticket={t}") == "closed 4401 ticket_expired"

    # A ticket taken before a logout is worthless after it.
    t = (await ticket(client, "/api/v1/ws-ticket", operator))["ticket"]
    assert (await client.post("/api/v1/auth/logout", headers=auth(operator))).status_code == 204
    assert await outcome(f"{operator_ws}?ticket={t}") == "closed 4401 token_revoked"
    error_of(await client.post("/api/v1/ws-ticket", headers=auth(operator)), 401)

    # An API key is not an operator; a visitor token is not an operator token, nor the
    # reverse; nothing at all is a 401.
    r = await client.post(
        "/api/v1/api-keys", json={"name": "k", "scopes": ["contacts:read"]}, headers=auth(admin)
    )
    r = await client.post("/api/v1/ws-ticket", headers={"X-Api-Key": r.json()["key"]})
    error_of(r, 403, "operator_only")
    error_of(await client.post("/api/v1/ws-ticket", headers=auth(visitor)), 401)
    error_of(await client.post(path, headers=auth(admin)), 401)
    error_of(await client.post(path), 401)

    # The deprecated ?token= still opens a socket (see README: deprecation).
    assert await outcome(f"{operator_ws}?token={admin}") == "ready"
    assert await outcome(f"{widget_ws}?token={visitor}") == "ready"


async def test_a_ticket_is_redeemed_exactly_once_across_nodes(live: LiveServer) -> None:
    """The same ticket presented to two nodes at the same moment opens one socket."""
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    operator = await run.operator_token()
    admin = await run.admin_token()
    key = (await create_webchat(live.client, admin))["public_key"]
    visitor = (await visitor_session(live.client, key, name="Uma"))["visitor_token"]
    async with serve_app(live.ctx.settings) as other:
        nodes = (live, other)
        for n in range(15):
            t = (await ticket(live.client, "/api/v1/ws-ticket", operator))["ticket"]
            v = (await ticket(other.client, f"/widget/v1/{key}/ws-ticket", visitor))["ticket"]
            results = await asyncio.gather(
                *(outcome(f"{node.ws_url}/api/v1/ws?ticket={t}") for node in nodes),
                *(outcome(f"{node.ws_url}/widget/v1/{key}/ws?ticket={v}") for node in nodes),
            )
            assert sorted(results[:2]) == ["closed 4401 invalid_ticket", "ready"], (n, results)
            assert sorted(results[2:]) == ["closed 4401 invalid_ticket", "ready"], (n, results)
        async with live.ctx.sessions() as session:
            assert await session.scalar(text("SELECT count(*) FROM ws_tickets")) == 0
