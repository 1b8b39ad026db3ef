"""Changing a connected bot: PATCH re-runs the provider setup (with creation's checks),
deactivating and DELETE tear it down. Against the fake Bot API, with the app's own poller
supervisor running (telegram_poll_scan_seconds 0.1 in these settings)."""

import asyncio
from typing import Any

import pytest

from tests.conftest import Running
from tests.helpers import auth
from tests.telegram.fake_bot_api import BOT, TOKEN, FakeBotApi, Outage, load_update
from tests.telegram.helpers import all_messages, create_bot, deliver, secret_of
from tests.telegram.test_polling import text_update, until

OTHER_TOKEN = "7099999999:AAHanotherBotsTokenForTests_012345678"


async def patch(run: Running, admin: str, channel_id: int, body: dict[str, Any]) -> Any:
    return await run.client.patch(f"/api/v1/channels/{channel_id}", json=body, headers=auth(admin))


async def channel(run: Running, admin: str, channel_id: int) -> dict[str, Any]:
    r = await run.client.get(f"/api/v1/channels/{channel_id}", headers=auth(admin))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def test_switching_to_polling_deletes_the_webhook_and_polls(
    run: Running, fake_api: FakeBotApi
) -> None:
    admin = await run.admin_token()
    bot = await create_bot(run.client, admin)
    old_secret = secret_of(fake_api)

    r = await patch(run, admin, bot["id"], {"settings": {"mode": "polling"}})
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["mode"] == "polling"
    assert r.json()["credential_names"] == ["bot_token"]
    assert TOKEN not in fake_api.webhook  # deleteWebhook: getUpdates works now
    # The old secret opens nothing any more.
    update = load_update("update_text")
    assert (await deliver(run.client, bot["id"], update, old_secret)).status_code == 401

    fake_api.push_update(text_update(1))
    await until(lambda: _texts(run, admin, ["message 1"]))


async def test_switching_to_webhook_sets_a_new_secret_webhook(
    run: Running, fake_api: FakeBotApi
) -> None:
    admin = await run.admin_token()
    bot = await create_bot(run.client, admin, mode="polling")
    r = await patch(run, admin, bot["id"], {"settings": {"mode": "webhook"}})
    assert r.status_code == 200, r.text
    assert r.json()["credential_names"] == ["bot_token", "webhook_secret"]
    hook = fake_api.webhook[TOKEN]
    assert hook["url"] == f"https://chat.example.com/webhooks/telegram/{bot['id']}"
    r = await deliver(run.client, bot["id"], load_update("update_text"), secret_of(fake_api))
    assert r.status_code == 200
    assert len(await all_messages(run.client, admin)) == 1


async def _texts(run: Running, admin: str, expected: list[str]) -> bool:
    return sorted(m["text"] for m in await all_messages(run.client, admin)) == expected


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"settings": {"mode": "carrier-pigeon"}}, 422, "invalid_settings"),
        ({"settings": {"api_server": "ftp://bots.example"}}, 422, "invalid_settings"),
        ({"credentials": {"bot_token": "123:unknown"}}, 422, "invalid_bot_token"),
        ({"credentials": {"bot_token": OTHER_TOKEN}}, 409, "different_bot"),
        ({"settings": {"bot_id": 7099999999}}, 422, "invalid_settings"),
    ],
)
async def test_a_bad_change_is_refused_and_nothing_changes(
    run: Running, fake_api: FakeBotApi, body: dict[str, Any], status: int, code: str
) -> None:
    fake_api.tokens[OTHER_TOKEN] = {**BOT, "id": 7099999999, "username": "other_bot"}
    admin = await run.admin_token()
    bot = await create_bot(run.client, admin)
    hook_before = dict(fake_api.webhook[TOKEN])
    calls_before = len(fake_api.calls)

    r = await patch(run, admin, bot["id"], body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert "unknown" not in r.text and OTHER_TOKEN not in r.text
    after = await channel(run, admin, bot["id"])
    assert after["settings"] == bot["settings"]
    assert after["credential_names"] == bot["credential_names"]
    assert fake_api.webhook[TOKEN] == hook_before
    assert not [c for c in fake_api.calls[calls_before:] if "Webhook" in c.method]
    # The stored token and secret still work.
    r = await deliver(run.client, bot["id"], load_update("update_text"), secret_of(fake_api))
    assert r.status_code == 200


async def test_a_new_token_of_the_same_bot_reconnects(run: Running, fake_api: FakeBotApi) -> None:
    new_token = "7012345678:AAHrevokedAndReissuedTokenForTests_01"
    fake_api.tokens[new_token] = BOT
    admin = await run.admin_token()
    bot = await create_bot(run.client, admin)
    r = await patch(run, admin, bot["id"], {"credentials": {"bot_token": new_token}})
    assert r.status_code == 200, r.text
    assert new_token not in r.text
    secret = fake_api.webhook[new_token]["secret_token"]
    assert (
        await deliver(run.client, bot["id"], load_update("update_text"), secret)
    ).status_code == 200


async def test_a_change_of_other_settings_calls_no_provider(
    run: Running, fake_api: FakeBotApi
) -> None:
    admin = await run.admin_token()
    bot = await create_bot(run.client, admin)
    calls_before = len(fake_api.calls)
    r = await patch(run, admin, bot["id"], {"name": "Renamed", "settings": {"csat_enabled": True}})
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["csat_enabled"] is True
    assert fake_api.calls[calls_before:] == []


async def test_deactivating_deletes_the_webhook_and_reactivating_sets_it_again(
    run: Running, fake_api: FakeBotApi
) -> None:
    admin = await run.admin_token()
    bot = await create_bot(run.client, admin)
    r = await patch(run, admin, bot["id"], {"is_active": False})
    assert r.status_code == 200, r.text
    assert TOKEN not in fake_api.webhook
    update = load_update("update_text")
    assert (await deliver(run.client, bot["id"], update, None)).status_code == 404

    r = await patch(run, admin, bot["id"], {"is_active": True})
    assert r.status_code == 200, r.text
    assert (await deliver(run.client, bot["id"], update, secret_of(fake_api))).status_code == 200


async def test_deactivating_a_polling_bot_stops_its_poller(
    run: Running, fake_api: FakeBotApi
) -> None:
    admin = await run.admin_token()
    bot = await create_bot(run.client, admin, mode="polling")
    fake_api.push_update(text_update(1))
    await until(lambda: _texts(run, admin, ["message 1"]))
    r = await patch(run, admin, bot["id"], {"is_active": False})
    assert r.status_code == 200, r.text
    await until(lambda: fake_api.polls_in_flight == 0)
    fake_api.push_update(text_update(2))
    polls = len(fake_api.calls_of("getUpdates"))
    await run_for(1.5)
    assert len(fake_api.calls_of("getUpdates")) == polls
    assert await _texts(run, admin, ["message 1"])

    r = await patch(run, admin, bot["id"], {"is_active": True})
    assert r.status_code == 200, r.text
    await until(lambda: _texts(run, admin, ["message 1", "message 2"]))


async def run_for(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def test_delete_stops_everything_and_keeps_history(
    run: Running, fake_api: FakeBotApi
) -> None:
    admin = await run.admin_token()
    bot = await create_bot(run.client, admin)
    secret = secret_of(fake_api)
    assert (
        await deliver(run.client, bot["id"], load_update("update_text"), secret)
    ).status_code == 200
    [conv] = (await run.client.get("/api/v1/conversations", headers=auth(admin))).json()["items"]
    fake_api.outage = _held()  # the reply stays in the outbox
    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages",
        json={"text": "Your order ships today"},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    reply_id = r.json()["id"]

    await until(lambda: fake_api.calls_of("sendMessage"))  # refused with a 429: still queued
    r = await run.client.delete(f"/api/v1/channels/{bot['id']}", headers=auth(admin))
    fake_api.outage = None
    assert r.status_code == 204, r.text
    assert TOKEN not in fake_api.webhook
    listed = (await run.client.get("/api/v1/channels", headers=auth(admin))).json()
    assert bot["id"] not in [c["id"] for c in listed]
    r = await run.client.get(f"/api/v1/channels/{bot['id']}", headers=auth(admin))
    assert r.status_code == 404
    r = await deliver(run.client, bot["id"], load_update("update_text"), secret)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_channel"

    # History stays readable; the queued reply is never sent.
    await run_for(1.0)
    msgs = await all_messages(run.client, admin)
    assert [m["direction"] for m in msgs] == ["inbound", "outbound"]
    reply = next(m for m in msgs if m["id"] == reply_id)
    assert reply["delivery_state"] == "failed"
    assert reply["failure_reason"] == "The channel was deleted"
    assert not fake_api.accepted
    # New replies are refused with a clear error.
    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages", json={"text": "hi"}, headers=auth(admin)
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "channel_deleted"
    # Audit-logged; and the same bot may be connected again as a new channel.
    log = (await run.client.get("/api/v1/audit-log", headers=auth(admin))).json()
    assert any(e["action"] == "channel.delete" and e["target_id"] == bot["id"] for e in _items(log))
    again = await create_bot(run.client, admin)
    assert again["id"] != bot["id"]


def _items(log: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = log["items"]
    return items


def _held() -> Outage:
    """Telegram answering 429 "retry after 30" for the client's chat: the reply waits."""
    chat = int(load_update("update_text")["message"]["chat"]["id"])
    return Outage("429", retry_after=30, chat_ids=frozenset({chat}))
