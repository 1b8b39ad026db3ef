"""Helpers for the WhatsApp tests: a channel pointed at the fake Graph API, signed webhook
posts, webhook bodies in Meta's shape, and waiting for the dispatcher."""

import asyncio
import copy
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from app.core.context import AppContext
from connectors.whatsapp.signature import sign
from tests.conftest import FIXTURES
from tests.helpers import auth
from tests.whatsapp.fake_graph import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    TOKEN,
    VERIFY_TOKEN,
    FakeGraph,
    graph_api_base,
)

CLIENT = "16505551234"


def fixture(name: str, recent: bool = True) -> dict[str, Any]:
    """A recorded webhook body. `recent`: its messages moved to just now, their spacing kept
    (the 24-hour window counts from a message's own timestamp)."""
    data: dict[str, Any] = json.loads((FIXTURES / "whatsapp" / f"{name}.json").read_text())
    messages = [
        m
        for entry in data.get("entry", [])
        for change in entry.get("changes", [])
        for m in change.get("value", {}).get("messages", [])
        if str(m.get("timestamp", "")).isdigit()
    ]
    if recent and messages:
        shift = int(time.time()) - max(int(m["timestamp"]) for m in messages)
        for m in messages:
            m["timestamp"] = str(int(m["timestamp"]) + shift)
    return data


async def create_whatsapp(
    client: httpx.AsyncClient, admin: str, graph: FakeGraph, **settings: Any
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/channels",
        json={
            "type": "whatsapp",
            "name": "Sales number",
            "settings": {"graph_api_base": graph_api_base(graph), **settings},
            "credentials": {
                "phone_number_id": PHONE_NUMBER_ID,
                "access_token": TOKEN,
                "app_secret": APP_SECRET,
                "verify_token": VERIFY_TOKEN,
            },
        },
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def post_webhook(
    client: httpx.AsyncClient,
    channel_id: int,
    payload: dict[str, Any] | bytes,
    secret: str | None = APP_SECRET,
    signature: str | None = None,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    elif secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return await client.post(f"/webhooks/whatsapp/{channel_id}", content=body, headers=headers)


def envelope(
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    name: str = "Kerry Fisher",
    wa_id: str = CLIENT,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
    }
    if messages:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id}]
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}],
    }


def text_message(wamid: str, body: str, frm: str = CLIENT, ts: int | None = None) -> dict[str, Any]:
    """A text message written at `ts` (Unix seconds; default: now)."""
    ts = int(time.time()) if ts is None else ts
    return {"from": frm, "id": wamid, "timestamp": str(ts), "type": "text", "text": {"body": body}}


def status(wamid: str, state: str, ts: int = 1763885000, **extra: Any) -> dict[str, Any]:
    return {"id": wamid, "status": state, "timestamp": str(ts), "recipient_id": CLIENT, **extra}


def clone(data: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(data)


async def messages_of(client: httpx.AsyncClient, admin: str, conversation_id: int) -> list[Any]:
    r = await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=auth(admin))
    assert r.status_code == 200, r.text
    items: list[Any] = r.json()["items"]
    return items


async def only_conversation(client: httpx.AsyncClient, admin: str) -> dict[str, Any]:
    r = await client.get("/api/v1/conversations", headers=auth(admin))
    items = r.json()["items"]
    assert len(items) == 1, items
    conversation: dict[str, Any] = items[0]
    return conversation


async def wait_for_state(
    client: httpx.AsyncClient,
    admin: str,
    conversation_id: int,
    message_id: int,
    states: tuple[str, ...],
    timeout: float = 10.0,
) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            for m in await messages_of(client, admin, conversation_id):
                if m["id"] == message_id and m["delivery_state"] in states:
                    found: dict[str, Any] = m
                    return found
            await asyncio.sleep(0.05)


async def reply(
    client: httpx.AsyncClient, admin: str, conversation_id: int, **body: Any
) -> httpx.Response:
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json=body, headers=auth(admin)
    )


async def set_last_inbound(ctx: AppContext, conversation_id: int, ago: timedelta) -> None:
    """Moves the client's last message into the past (the window is measured from it)."""
    async with ctx.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE conversations SET last_inbound_at = CAST(:at AS timestamptz) WHERE id = :id"
            ),
            {"at": datetime.now(UTC) - ago, "id": conversation_id},
        )
        await conn.execute(
            text(
                "UPDATE contact_identities SET last_inbound_at = CAST(:at AS timestamptz) "
                "WHERE id = (SELECT identity_id FROM conversations WHERE id = :id)"
            ),
            {"at": datetime.now(UTC) - ago, "id": conversation_id},
        )


async def count(ctx: AppContext, table: str, where: str = "true") -> int:
    async with ctx.engine.connect() as conn:
        n = await conn.scalar(text(f"SELECT count(*) FROM {table} WHERE {where}"))
    return int(n or 0)
