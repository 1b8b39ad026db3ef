"""Talking to the orders API as a shop would, and draining the outbox."""

from typing import Any

import httpx
from sqlalchemy import text

from app.core.context import AppContext
from app.delivery.dispatcher import Dispatcher
from app.operators import scopes
from tests.helpers import auth

FAST = {"rate_per_account": "100000/second", "rate_per_chat": "100000/second"}


async def shop_key(client: httpx.AsyncClient, admin: str) -> dict[str, str]:
    r = await client.post(
        "/api/v1/api-keys",
        json={"name": "shop", "scopes": [scopes.ORDERS_WRITE, scopes.ORDERS_READ]},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    return {"X-Api-Key": r.json()["key"]}


async def put_order(
    http: httpx.AsyncClient, key: dict[str, str], external_id: str, **body: Any
) -> dict[str, Any]:
    r = await http.put(f"/api/v1/orders/{external_id}", json=body, headers=key)
    assert r.status_code in (200, 201), r.text
    data: dict[str, Any] = r.json()
    return data


async def post_event(
    client: httpx.AsyncClient,
    key: dict[str, str],
    external_id: str,
    event_id: str,
    status: str,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/orders/{external_id}/events",
        json={"event_id": event_id, "status": status, **extra},
        headers=key,
    )


async def drain(ctx: AppContext) -> int:
    """Run the dispatcher until the outbox is empty (one message per conversation a batch)."""
    handled = 0
    dispatcher = Dispatcher(ctx)
    while n := await dispatcher.run_once():
        handled += n
    return handled


async def rows(ctx: AppContext, sql: str, **params: Any) -> list[Any]:
    async with ctx.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())
