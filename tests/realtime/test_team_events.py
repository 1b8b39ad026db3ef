"""Live events follow the same visibility rule as the inbox: an operator's console gets
the unassigned conversations of their own teams, never those waiting for another team."""

import asyncio

import websockets

from tests.conftest import LiveServer, Running, create_operator
from tests.helpers import recv_event, visitor_post, visitor_session
from tests.routing.test_routing import operator_id, team_channel


async def _texts_seen(ws: websockets.ClientConnection, seconds: float) -> list[str]:
    seen: list[str] = []
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            event = await recv_event(ws, left)
        except TimeoutError:
            break
        if event["type"] == "message.created":
            seen.append(event["data"]["text"])
    return seen


async def test_consoles_get_only_their_teams_queue(live: LiveServer) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    sales_token = await create_operator(run, "sales@example.com", "operator")
    support_token = await create_operator(run, "support@example.com", "operator")
    sales_op = await operator_id(run, sales_token)
    support_op = await operator_id(run, support_token)
    # Manual routing: conversations wait unassigned in their team's queue.
    sales_key = await team_channel(run, admin, [sales_op], strategy="manual")
    support_key = await team_channel(run, admin, [support_op], "Support", strategy="manual")

    async with (
        websockets.connect(f"{live.ws_url}/api/v1/ws?token={sales_token}") as sales_ws,
        websockets.connect(f"{live.ws_url}/api/v1/ws?token={support_token}") as support_ws,
        websockets.connect(f"{live.ws_url}/api/v1/ws?token={admin}") as admin_ws,
    ):
        for ws in (sales_ws, support_ws, admin_ws):
            while (await recv_event(ws))["type"] != "ready":
                pass
        for key, text in ((sales_key, "for sales"), (support_key, "for support")):
            token = (await visitor_session(live.client, key))["visitor_token"]
            r = await visitor_post(live.client, key, token, text)
            assert r.status_code == 201, r.text
            assert r.json()["message"]["conversation_id"]

        sales_seen, support_seen, admin_seen = await asyncio.gather(
            _texts_seen(sales_ws, 1.5), _texts_seen(support_ws, 1.5), _texts_seen(admin_ws, 1.5)
        )
    assert sales_seen == ["for sales"]
    assert support_seen == ["for support"]
    assert sorted(admin_seen) == ["for sales", "for support"]
