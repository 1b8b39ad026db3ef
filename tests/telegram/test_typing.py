"""An operator typing in a Telegram conversation: the client sees Telegram's chat action
("typing"), sent at most once per few seconds however fast the console signals."""

import asyncio
import json

import websockets

from tests.conftest import LiveServer, Running, create_operator
from tests.helpers import auth
from tests.telegram.fake_bot_api import FakeBotApi, load_update
from tests.telegram.helpers import create_bot, deliver, secret_of
from tests.webchat.test_end_to_end import next_event


async def test_an_operator_typing_in_telegram_sends_a_chat_action(
    live: LiveServer, fake_api: FakeBotApi
) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    channel = await create_bot(live.client, admin)
    r = await deliver(live.client, channel["id"], load_update("update_text"), secret_of(fake_api))
    assert r.status_code == 200
    r = await live.client.get("/api/v1/conversations", headers=auth(admin))
    (conv,) = r.json()["items"]
    async with websockets.connect(f"{live.ws_url}/api/v1/ws?token={admin}") as console:
        await next_event(console, "ready")
        for _ in range(3):
            await console.send(json.dumps({"type": "typing", "conversation_id": conv["id"]}))
            await asyncio.sleep(0.1)
        async with asyncio.timeout(5):
            while not fake_api.calls_of("sendChatAction"):
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
    (call,) = fake_api.calls_of("sendChatAction")
    assert call.params["action"] == "typing"
    update = load_update("update_text")
    assert int(call.params["chat_id"]) == update["message"]["chat"]["id"]
