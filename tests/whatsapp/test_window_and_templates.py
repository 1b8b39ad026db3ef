"""The 24-hour customer-service window and template sends."""

from datetime import UTC, datetime, timedelta

from tests.conftest import Running
from tests.helpers import auth
from tests.whatsapp.fake_graph import FakeGraph
from tests.whatsapp.support import (
    CLIENT,
    create_whatsapp,
    fixture,
    only_conversation,
    post_webhook,
    reply,
    set_last_inbound,
    wait_for_state,
)

TEMPLATES = [
    {"name": "order_update", "language": "en_US", "parameters": 2},
    {"name": "order_update", "language": "pt_BR", "parameters": 2},
    {"name": "hello", "language": "en_US", "parameters": 0},
]


async def _conversation(run: Running, admin: str, graph: FakeGraph) -> tuple[int, int]:
    channel_id = (await create_whatsapp(run.client, admin, graph, templates=TEMPLATES))["id"]
    await post_webhook(run.client, channel_id, fixture("webhook_text"))
    return channel_id, (await only_conversation(run.client, admin))["id"]


async def test_reply_inside_and_outside_window(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    _, conv_id = await _conversation(run, admin, graph)

    await set_last_inbound(run.ctx, conv_id, timedelta(hours=23, minutes=59))
    conv = (await run.client.get(f"/api/v1/conversations/{conv_id}", headers=auth(admin))).json()
    assert conv["reply_window_open"] is True
    expires = datetime.fromisoformat(conv["reply_window_expires_at"])
    assert timedelta(0) < expires - datetime.now(UTC) <= timedelta(minutes=1)
    r = await reply(run.client, admin, conv_id, text="Still in time")
    assert r.status_code == 201, r.text
    await wait_for_state(run.client, admin, conv_id, r.json()["id"], ("sent",))
    assert graph.sends[-1].body["text"]["body"] == "Still in time"

    await set_last_inbound(run.ctx, conv_id, timedelta(hours=24, minutes=1))
    conv = (await run.client.get(f"/api/v1/conversations/{conv_id}", headers=auth(admin))).json()
    assert conv["reply_window_open"] is False
    r = await reply(run.client, admin, conv_id, text="Too late")
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "whatsapp_window_closed"
    assert len(graph.sends) == 1  # refused up front: nothing queued, nothing sent

    # A private note is not a send: the window does not apply.
    r = await reply(run.client, admin, conv_id, text="call them instead", private=True)
    assert r.status_code == 201

    template = {"name": "order_update", "language": "pt_BR", "parameters": ["Kerry", "#4521"]}
    r = await reply(run.client, admin, conv_id, template=template)
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "template"
    assert r.json()["text"] == "Template order_update (pt_BR): Kerry, #4521"
    await wait_for_state(run.client, admin, conv_id, r.json()["id"], ("sent",))
    sent = graph.sends[-1].body
    assert sent["to"] == CLIENT
    assert sent["type"] == "template"
    assert sent["template"] == {
        "name": "order_update",
        "language": {"code": "pt_BR"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Kerry"},
                    {"type": "text", "text": "#4521"},
                ],
            }
        ],
    }


async def test_template_must_be_registered_and_complete(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    _, conv_id = await _conversation(run, admin, graph)
    unknown = {"name": "order_update", "language": "de_DE", "parameters": ["a", "b"]}
    r = await reply(run.client, admin, conv_id, template=unknown)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_template"
    short = {"name": "order_update", "language": "en_US", "parameters": ["a"]}
    r = await reply(run.client, admin, conv_id, template=short)
    assert r.status_code == 422 and r.json()["error"]["code"] == "template_parameters"
    r = await reply(run.client, admin, conv_id)
    assert r.status_code == 422  # neither text nor template


async def test_integration_send_outside_window(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    _, conv_id = await _conversation(run, admin, graph)
    await set_last_inbound(run.ctx, conv_id, timedelta(days=2))
    body = {"idempotency_key": "n1", "conversation_id": conv_id, "text": "Your order shipped"}
    r = await run.client.post("/api/v1/messages", json=body, headers=auth(admin))
    assert r.status_code == 409 and r.json()["error"]["code"] == "whatsapp_window_closed"
    body = {
        "idempotency_key": "n2",
        "conversation_id": conv_id,
        "template": {"name": "hello", "language": "en_US"},
    }
    r = await run.client.post("/api/v1/messages", json=body, headers=auth(admin))
    assert r.status_code == 201, r.text
    await wait_for_state(run.client, admin, conv_id, r.json()["id"], ("sent",))
    assert graph.sends[-1].body["template"] == {"name": "hello", "language": {"code": "en_US"}}


async def test_templates_api(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    operator = await run.operator_token()
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    url = f"/api/v1/channels/{channel_id}/templates"
    assert (await run.client.get(url, headers=auth(admin))).json() == {"templates": []}
    r = await run.client.put(url, json={"templates": TEMPLATES}, headers=auth(admin))
    assert r.status_code == 200, r.text
    r = await run.client.get(url, headers=auth(operator))
    assert r.json()["templates"] == TEMPLATES
    r = await run.client.put(url, json={"templates": []}, headers=auth(operator))
    assert r.status_code == 403
    r = await run.client.put(
        url, json={"templates": [TEMPLATES[0], TEMPLATES[0]]}, headers=auth(admin)
    )
    assert r.status_code == 422
    r = await run.client.put(
        url,
        json={"templates": [{"name": "Bad Name", "language": "en"}]},
        headers=auth(admin),
    )
    assert r.status_code == 422


async def test_no_window_on_other_channels(run: Running) -> None:
    from tests.helpers import create_webchat, visitor_post, visitor_session

    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    token = (await visitor_session(run.client, key))["visitor_token"]
    conv_id = (await visitor_post(run.client, key, token, "hi")).json()["message"][
        "conversation_id"
    ]
    conv = (await run.client.get(f"/api/v1/conversations/{conv_id}", headers=auth(admin))).json()
    assert conv["reply_window_expires_at"] is None and conv["reply_window_open"] is None
    r = await reply(run.client, admin, conv_id, template={"name": "hello", "language": "en_US"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "templates_not_supported"
