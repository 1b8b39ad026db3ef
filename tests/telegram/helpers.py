"""Talking to the app as Telegram and as an operator would."""

from typing import Any

import httpx

from tests.helpers import auth
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def create_bot(
    client: httpx.AsyncClient, admin: str, token: str = TOKEN, **settings: Any
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/channels",
        json={
            "type": "telegram",
            "name": "Shop bot",
            "settings": settings,
            "credentials": {"bot_token": token},
        },
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def secret_of(fake: FakeBotApi) -> str:
    """The secret the app handed to Telegram in setWebhook: what Telegram sends back."""
    secret: str = fake.webhook[TOKEN]["secret_token"]
    return secret


async def deliver(
    client: httpx.AsyncClient, channel_id: int, update: Any, secret: str | bytes | None
) -> httpx.Response:
    headers: dict[str, str | bytes] = {SECRET_HEADER: secret} if secret is not None else {}
    if isinstance(update, bytes):
        return await client.post(
            f"/webhooks/telegram/{channel_id}", content=update, headers=headers
        )
    return await client.post(f"/webhooks/telegram/{channel_id}", json=update, headers=headers)


async def conversations(client: httpx.AsyncClient, admin: str) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/conversations", headers=auth(admin))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def messages(client: httpx.AsyncClient, admin: str, conversation_id: int) -> list[Any]:
    r = await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=auth(admin))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def all_messages(client: httpx.AsyncClient, admin: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for conv in await conversations(client, admin):
        out += await messages(client, admin, conv["id"])
    return out
