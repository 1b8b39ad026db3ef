"""Over real HTTP and WebSockets: Meta's webhook -> operator console -> reply -> Graph API,
then Meta's status callbacks show up live for the operator."""

import websockets

from tests.conftest import LiveServer, Running, create_operator
from tests.helpers import auth
from tests.webchat.test_end_to_end import next_event
from tests.whatsapp.fake_graph import FakeGraph
from tests.whatsapp.support import CLIENT, create_whatsapp, envelope, fixture, post_webhook, status


async def test_whatsapp_client_to_operator_and_back(live: LiveServer, graph: FakeGraph) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    channel_id = (await create_whatsapp(live.client, admin, graph))["id"]

    async with websockets.connect(f"{live.ws_url}/api/v1/ws?token={admin}") as op_ws:
        await next_event(op_ws, "ready")
        r = await post_webhook(live.client, channel_id, fixture("webhook_text"))
        assert r.status_code == 200, r.text

        event = await next_event(op_ws, "message.created")
        assert event["data"]["text"] == "Hi, is my order #4521 on its way?"
        assert event["data"]["direction"] == "inbound"
        assert event["conversation"]["contact"]["name"] == "Kerry Fisher"
        assert event["conversation"]["reply_window_open"] is True
        conversation_id = event["data"]["conversation_id"]

        r = await live.client.post(
            f"/api/v1/conversations/{conversation_id}/messages",
            json={"text": "Yes, it arrives tomorrow."},
            headers=auth(admin),
        )
        assert r.status_code == 201, r.text
        reply_id = r.json()["id"]

        [sent] = await graph.wait_for_sends(1)
        assert sent.body["to"] == CLIENT
        assert sent.body["text"]["body"] == "Yes, it arrives tomorrow."
        while True:
            updated = await next_event(op_ws, "message.updated")
            if updated["data"]["id"] == reply_id and updated["data"]["delivery_state"] == "sent":
                break

        r = await post_webhook(
            live.client, channel_id, envelope(statuses=[status("wamid.fake.1", "read")])
        )
        assert r.json()["statuses"] == 1
        while True:
            updated = await next_event(op_ws, "message.updated")
            if updated["data"]["id"] == reply_id and updated["data"]["delivery_state"] == "read":
                break
