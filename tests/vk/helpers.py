"""Talking to the app as VK and as an operator would."""

import asyncio
import copy
import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.connectors.vk.fake_vk import GROUP_ID, SECRET, TOKEN, fixture
from tests.helpers import auth


async def create_community(
    client: httpx.AsyncClient,
    admin: str,
    *,
    credentials: dict[str, str] | None = None,
    expect: int = 201,
    **settings: Any,
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/channels",
        json={
            "type": "vk",
            "name": "Flora",
            "settings": {"group_id": GROUP_ID, **settings},
            "credentials": {"access_token": TOKEN, "secret": SECRET}
            if credentials is None
            else credentials,
        },
        headers=auth(admin),
    )
    assert r.status_code == expect, r.text
    data: dict[str, Any] = r.json()
    return data


def event(name: str, **message: Any) -> dict[str, Any]:
    """A fixture event, its message's fields replaced by `message`."""
    body = copy.deepcopy(fixture(name))
    if message:
        body["object"]["message"].update(message)
    return body


async def post(client: httpx.AsyncClient, channel_id: int, body: Any) -> httpx.Response:
    if isinstance(body, bytes):
        return await client.post(f"/webhooks/vk/{channel_id}", content=body)
    return await client.post(f"/webhooks/vk/{channel_id}", json=body)


async def messages(client: httpx.AsyncClient, admin: str) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/conversations", headers=auth(admin))
    assert r.status_code == 200, r.text
    out: list[dict[str, Any]] = []
    for conv in r.json()["items"]:
        got = await client.get(f"/api/v1/conversations/{conv['id']}/messages", headers=auth(admin))
        assert got.status_code == 200, got.text
        out += got.json()["items"]
    return out


async def until(check: Callable[[], Any], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")
