"""Operator replies through the outbox dispatcher to the fake Bot API."""

import asyncio
import time
from typing import Any

import pytest

from tests.conftest import Running
from tests.helpers import auth
from tests.telegram.fake_bot_api import FakeBotApi, load_update
from tests.telegram.helpers import conversations, create_bot, deliver, messages, secret_of

CHAT = "518003941"


@pytest.fixture
async def conversation(run: Running, fake_api: FakeBotApi) -> dict[str, Any]:
    admin = await run.admin_token()
    channel = await create_bot(run.client, admin)
    r = await deliver(run.client, channel["id"], load_update("update_text"), secret_of(fake_api))
    assert r.status_code == 200
    [conv] = await conversations(run.client, admin)
    return {"admin": admin, "id": conv["id"], "contact_id": conv["contact"]["id"]}


async def reply(run: Running, conv: dict[str, Any], text: str) -> int:
    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages",
        json={"text": text},
        headers=auth(conv["admin"]),
    )
    assert r.status_code == 201, r.text
    message_id: int = r.json()["id"]
    return message_id


async def settled(run: Running, conv: dict[str, Any], message_id: int, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in await messages(run.client, conv["admin"], conv["id"]):
            if m["id"] == message_id and m["delivery_state"] != "queued":
                return m
        await asyncio.sleep(0.05)
    raise AssertionError(f"message {message_id} still queued")


async def test_a_5000_character_reply_arrives_as_two_messages_in_order(
    run: Running, conversation: dict[str, Any], fake_api: FakeBotApi
) -> None:
    text = "первая часть " * 300 + "вторая часть " * 85  # 5005 characters
    assert 5000 <= len(text) < 8192
    await reply(run, conversation, text)
    rows = await messages(run.client, conversation["admin"], conversation["id"])
    parts = [m for m in rows if m["direction"] == "outbound"]
    assert len(parts) == 2  # two messages, each its own outbox row
    for part in parts:
        assert (await settled(run, conversation, part["id"]))["delivery_state"] == "sent"
    calls = fake_api.calls_of("sendMessage")
    assert len(calls) == 2
    assert [c.params["chat_id"] for c in calls] == [CHAT, CHAT]
    assert "".join(c.params["text"] for c in calls) == text
    assert calls[0].at <= calls[1].at


async def test_429_is_retried_after_retry_after_then_sent_once(
    run: Running, conversation: dict[str, Any], fake_api: FakeBotApi
) -> None:
    fake_api.fail(
        "sendMessage",
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )
    msg = await settled(run, conversation, await reply(run, conversation, "Заказ в пути"))
    assert msg["delivery_state"] == "sent"
    first, second = fake_api.calls_of("sendMessage")  # one refused, one delivered: no third
    assert second.at - first.at >= 0.95  # backoff in tests is 0.05 s: retry_after won
    assert second.params["text"] == "Заказ в пути"
    await asyncio.sleep(0.3)
    assert len(fake_api.calls_of("sendMessage")) == 2


async def test_5xx_is_retried(
    run: Running, conversation: dict[str, Any], fake_api: FakeBotApi
) -> None:
    fake_api.fail("sendMessage", 502, times=2)
    msg = await settled(run, conversation, await reply(run, conversation, "ok?"))
    assert msg["delivery_state"] == "sent"
    assert len(fake_api.calls_of("sendMessage")) == 3


async def test_403_blocked_fails_at_once_with_the_reason(
    run: Running, conversation: dict[str, Any], fake_api: FakeBotApi
) -> None:
    fake_api.fail("sendMessage", "error_403_blocked")
    msg = await settled(run, conversation, await reply(run, conversation, "Здравствуйте"))
    assert msg["delivery_state"] == "failed"
    assert msg["failure_reason"] == "Forbidden: bot was blocked by the user"
    assert len(fake_api.calls_of("sendMessage")) == 1  # not retried

    admin = conversation["admin"]
    r = await run.client.get(f"/api/v1/contacts/{conversation['contact_id']}", headers=auth(admin))
    assert r.json()["identities"][0]["reachable"] is False
    r = await run.client.get(
        "/api/v1/touchpoints", params={"conversation_id": conversation["id"]}, headers=auth(admin)
    )
    failures = [t for t in r.json()["items"] if t["kind"] == "delivery_failure"]
    assert [t["reaction"] for t in failures] == ["negative"]
