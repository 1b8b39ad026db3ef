"""The whole path over real HTTP and WebSockets, in both modes:
Telegram update -> inbox -> operator sees it -> operator replies -> sendMessage to the chat."""

import asyncio
import time
from typing import Any

import websockets

from tests.conftest import LiveServer, Running, create_operator
from tests.helpers import auth
from tests.telegram.fake_bot_api import FakeBotApi, load_update
from tests.telegram.helpers import create_bot, deliver, secret_of
from tests.webchat.test_end_to_end import next_event


async def wait_for_send(fake: FakeBotApi, count: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while len(fake.calls_of("sendMessage")) < count:
        assert time.monotonic() < deadline, "no sendMessage arrived"
        await asyncio.sleep(0.05)


async def operator_round_trip(
    live: LiveServer, fake: FakeBotApi, admin: str, op_ws: Any
) -> dict[str, Any]:
    event = await next_event(op_ws, "message.created")
    assert event["data"]["direction"] == "inbound"
    conversation_id = event["data"]["conversation_id"]
    r = await live.client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": "Заказ приедет в четверг."},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    await wait_for_send(fake, 1)
    [call] = fake.calls_of("sendMessage")
    assert call.params["chat_id"] == "518003941"
    assert call.params["text"] == "Заказ приедет в четверг."
    updated = await next_event(op_ws, "message.updated")
    assert updated["data"]["id"] == r.json()["id"]
    assert updated["data"]["delivery_state"] == "sent"
    data: dict[str, Any] = event["data"]
    return data


async def test_webhook_mode_round_trip_and_edit(live: LiveServer, fake_api: FakeBotApi) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    channel = await create_bot(live.client, admin)
    async with websockets.connect(f"{live.ws_url}/api/v1/ws?token={admin}") as op_ws:
        await next_event(op_ws, "ready")
        r = await deliver(
            live.client, channel["id"], load_update("update_text"), secret_of(fake_api)
        )
        assert r.status_code == 200
        inbound = await operator_round_trip(live, fake_api, admin, op_ws)
        assert inbound["text"] == "Здравствуйте! Подскажите, когда придёт заказ №4521?"

        # The client edits the message: the operator sees the same message change.
        r = await deliver(
            live.client, channel["id"], load_update("update_edited"), secret_of(fake_api)
        )
        assert r.status_code == 200
        updated = await next_event(op_ws, "message.updated")
        assert updated["data"]["id"] == inbound["id"]
        assert updated["data"]["text"] == "Здравствуйте! Подскажите, когда придёт заказ №4522?"


async def test_polling_mode_round_trip_via_the_workers(
    live: LiveServer, fake_api: FakeBotApi
) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    await create_bot(live.client, admin, mode="polling")
    async with websockets.connect(f"{live.ws_url}/api/v1/ws?token={admin}") as op_ws:
        await next_event(op_ws, "ready")
        fake_api.push_update(load_update("update_text"))
        try:
            inbound = await operator_round_trip(live, fake_api, admin, op_ws)
        except TimeoutError:
            # Once seen in CI and not reproduced since: say where the update stopped.
            polls = fake_api.calls_of("getUpdates")
            stored = await live.client.get("/api/v1/conversations", headers=auth(admin))
            raise AssertionError(
                f"no round trip: {len(polls)} getUpdates calls (last {polls[-1:]}), "
                f"delivered {dict(fake_api.delivered)}, conversations {stored.text[:500]}"
            ) from None
        assert inbound["text"] == "Здравствуйте! Подскажите, когда придёт заказ №4521?"
