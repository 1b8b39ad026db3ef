"""The webhook: handshake, signature over the raw bytes, inbound mapping, batches in order,
redelivery, and status callbacks (out of order, failed)."""

import json

from tests.conftest import Running
from tests.helpers import auth
from tests.whatsapp.fake_graph import APP_SECRET, VERIFY_TOKEN, FakeGraph
from tests.whatsapp.support import (
    CLIENT,
    count,
    create_whatsapp,
    envelope,
    fixture,
    messages_of,
    only_conversation,
    post_webhook,
    reply,
    status,
    text_message,
    wait_for_state,
)


async def test_verify_handshake(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel = await create_whatsapp(run.client, admin, graph)
    url = f"/webhooks/whatsapp/{channel['id']}"
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158"}
    r = await run.client.get(url, params=params)
    assert r.status_code == 200
    assert r.text == "1158"
    assert r.headers["content-type"].startswith("text/plain")
    r = await run.client.get(url, params={**params, "hub.verify_token": "wrong"})
    assert r.status_code == 403
    r = await run.client.get("/webhooks/whatsapp/999999", params=params)
    assert r.status_code == 404


async def test_credentials_required_and_never_returned(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    r = await run.client.post(
        "/api/v1/channels",
        json={"type": "whatsapp", "name": "x", "credentials": {"phone_number_id": "1"}},
        headers=auth(admin),
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "missing_credentials"
    assert "access_token" in r.json()["error"]["message"]
    channel = await create_whatsapp(run.client, admin, graph)
    r = await run.client.get(f"/api/v1/channels/{channel['id']}", headers=auth(admin))
    assert APP_SECRET not in r.text and "EAAG" not in r.text
    assert r.json()["credential_names"] == [
        "access_token",
        "app_secret",
        "phone_number_id",
        "verify_token",
    ]


async def test_signature_checks(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    # Meta's serialisation escapes unicode; the check must run over these exact bytes.
    body = json.dumps(fixture("webhook_text"), ensure_ascii=True).encode()

    r = await post_webhook(run.client, channel_id, body, secret="not-the-secret")
    assert r.status_code == 401
    r = await post_webhook(run.client, channel_id, body, secret=None)
    assert r.status_code == 401
    changed = body.replace(b"#4521", b"#4522")  # one byte differs, signature of the original
    from connectors.whatsapp.signature import sign

    r = await post_webhook(run.client, channel_id, changed, signature=sign(APP_SECRET, body))
    assert r.status_code == 401
    assert await count(run.ctx, "messages") == 0

    r = await post_webhook(run.client, channel_id, body)
    assert r.status_code == 200, r.text
    assert r.json() == {"messages": 1, "duplicates": 0, "statuses": 0, "edits": 0}
    assert await count(run.ctx, "messages") == 1


async def test_malformed_and_unknown(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    r = await post_webhook(run.client, channel_id, b'{"object": "whatsapp_business_acc')
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_json"
    r = await post_webhook(run.client, 999999, fixture("webhook_text"))
    assert r.status_code == 404


async def test_inbound_kinds(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    for name in ("webhook_text", "webhook_image", "webhook_reply_button"):
        assert (await post_webhook(run.client, channel_id, fixture(name))).status_code == 200
    own = [
        {
            "from": CLIENT,
            "id": "wamid.loc",
            "timestamp": "1763885200",
            "type": "location",
            "location": {"latitude": 38.72, "longitude": -9.14, "name": "Shop", "address": "Rua 1"},
        },
        {
            "from": CLIENT,
            "id": "wamid.list",
            "timestamp": "1763885201",
            "type": "interactive",
            "interactive": {"type": "list_reply", "list_reply": {"id": "slot-2", "title": "2pm"}},
        },
        {
            "from": CLIENT,
            "id": "wamid.react",
            "timestamp": "1763885202",
            "type": "reaction",
            "reaction": {"message_id": "wamid.loc", "emoji": "👍"},
        },
        {
            "from": CLIENT,
            "id": "wamid.unknown",
            "timestamp": "1763885203",
            "type": "unknown",
            "errors": [{"code": 131051, "title": "Message type unknown"}],
        },
        {
            "context": {"from": "15550783881", "id": "wamid.loc"},
            **text_message("wamid.ctx", "about that place", ts=1763885204),
        },
    ]
    r = await post_webhook(run.client, channel_id, envelope(own))
    assert r.json()["messages"] == 5
    conv = await only_conversation(run.client, admin)
    assert conv["contact"]["name"] == "Kerry Fisher"
    items = await messages_of(run.client, admin, conv["id"])
    by_text = {m["kind"]: m for m in items}
    assert [m["kind"] for m in items] == [
        "text",
        "image",
        "button",
        "location",
        "button",
        "reaction",
        "unsupported",
        "text",
    ]
    assert by_text["image"]["attachments"][0]["media_id"] == "1003383421387256"
    assert by_text["image"]["text"] == "The box arrived damaged"
    assert items[2]["text"] == "Yes, that works"
    assert items[3]["text"] == "Shop, Rua 1"
    assert items[4]["text"] == "2pm"
    assert items[5]["text"] == "👍" and items[5]["reply_to_id"] == items[3]["id"]
    assert items[7]["reply_to_id"] == items[3]["id"]
    # Button presses are touchpoints of their own kind, with the choice.
    assert await count(run.ctx, "touchpoints", "kind = 'button'") == 2
    contact = (
        await run.client.get(f"/api/v1/contacts/{conv['contact']['id']}", headers=auth(admin))
    ).json()
    assert contact["phone"] == "+16505551234"
    assert contact["identities"][0]["external_id"] == CLIENT


async def test_template_button_and_username_only(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    await post_webhook(run.client, channel_id, fixture("webhook_template_button"))
    await post_webhook(run.client, channel_id, fixture("webhook_username_only"))
    r = await run.client.get("/api/v1/conversations", headers=auth(admin))
    convs = {c["contact"]["name"]: c for c in r.json()["items"]}
    assert set(convs) == {"Kerry Fisher", "Mira K."}
    [pressed] = await messages_of(run.client, admin, convs["Kerry Fisher"]["id"])
    assert pressed["kind"] == "button" and pressed["text"] == "Excellent"
    [hello] = await messages_of(run.client, admin, convs["Mira K."]["id"])
    assert hello["text"].startswith("Hello, I found you")
    contact = (
        await run.client.get(
            f"/api/v1/contacts/{convs['Mira K.']['contact']['id']}", headers=auth(admin)
        )
    ).json()
    assert contact["phone"] is None  # no phone number is assumed
    assert contact["identities"][0]["external_id"] == "US.13491208655302741918"


async def _two_sent_replies(run: Running, admin: str, graph: FakeGraph) -> tuple[int, list[int]]:
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    await post_webhook(run.client, channel_id, fixture("webhook_text"))
    conv_id = (await only_conversation(run.client, admin))["id"]
    ids = []
    for body in ("It ships today.", "Tracking: ABC123"):
        r = await reply(run.client, admin, conv_id, text=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        await wait_for_state(run.client, admin, conv_id, ids[-1], ("sent",))
    return channel_id, ids


async def test_batch_in_order_and_redelivery(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id, (first, second) = await _two_sent_replies(run, admin, graph)
    assert [s.body["text"]["body"] for s in graph.sends] == ["It ships today.", "Tracking: ABC123"]
    assert graph.sends[0].body["to"] == CLIENT
    # Two entries in one body: 3 messages and 4 statuses, all processed in order.
    batch = envelope(
        [text_message("wamid.b1", "one"), text_message("wamid.b2", "two")],
        [status("wamid.fake.1", "delivered"), status("wamid.fake.1", "read", ts=1763885100)],
    )
    more = envelope(
        [text_message("wamid.b3", "three")],
        [status("wamid.fake.2", "delivered"), status("wamid.fake.2", "sent", ts=1763884000)],
    )
    batch["entry"].append(more["entry"][0])
    r = await post_webhook(run.client, channel_id, batch)
    assert r.status_code == 200
    assert r.json() == {
        "messages": 3,
        "duplicates": 0,
        "statuses": 3,
        "edits": 0,
    }  # the late "sent" is moot

    conv_id = (await only_conversation(run.client, admin))["id"]
    before = await messages_of(run.client, admin, conv_id)
    assert [m["text"] for m in before][-3:] == ["one", "two", "three"]
    states = {m["id"]: m["delivery_state"] for m in before}
    assert states[first] == "read" and states[second] == "delivered"
    touchpoints = await count(run.ctx, "touchpoints")

    r = await post_webhook(run.client, channel_id, batch)  # Meta retries the same body
    assert r.status_code == 200
    assert r.json() == {"messages": 0, "duplicates": 3, "statuses": 0, "edits": 0}
    assert await messages_of(run.client, admin, conv_id) == before
    assert await count(run.ctx, "touchpoints") == touchpoints


async def test_statuses_out_of_order(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id, (first, second) = await _two_sent_replies(run, admin, graph)
    conv_id = (await only_conversation(run.client, admin))["id"]
    # The fixture: delivered, then the late sent, then read.
    await post_webhook(run.client, channel_id, fixture("webhook_statuses"))
    # Delivered arriving before sent ends as delivered; read is never downgraded.
    await post_webhook(
        run.client,
        channel_id,
        envelope(statuses=[status("wamid.fake.2", "delivered"), status("wamid.fake.2", "sent")]),
    )
    states = {m["id"]: m["delivery_state"] for m in await messages_of(run.client, admin, conv_id)}
    assert states[second] == "delivered"
    assert states[first] == "sent"  # the fixture's wamid is not one of ours: nothing moved
    await post_webhook(
        run.client,
        channel_id,
        envelope(
            statuses=[
                status("wamid.fake.1", "read"),
                status("wamid.fake.1", "delivered"),
                status("wamid.fake.1", "sent"),
            ]
        ),
    )
    states = {m["id"]: m["delivery_state"] for m in await messages_of(run.client, admin, conv_id)}
    assert states[first] == "read"


async def test_failed_status(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id, (first, _) = await _two_sent_replies(run, admin, graph)
    conv_id = (await only_conversation(run.client, admin))["id"]
    failed = fixture("webhook_status_failed")
    failed["entry"][0]["changes"][0]["value"]["statuses"][0]["id"] = "wamid.fake.1"
    r = await post_webhook(run.client, channel_id, failed)
    assert r.json()["statuses"] == 1
    [m] = [m for m in await messages_of(run.client, admin, conv_id) if m["id"] == first]
    assert m["delivery_state"] == "failed"
    assert m["failure_reason"] == "131047 Re-engagement message"
    assert (
        await count(
            run.ctx,
            "touchpoints",
            f"kind = 'delivery_failure' AND reaction = 'negative' AND message_id = {first}",
        )
        == 1
    )
    # A later "read" cannot resurrect a failed message.
    await post_webhook(run.client, channel_id, envelope(statuses=[status("wamid.fake.1", "read")]))
    [m] = [m for m in await messages_of(run.client, admin, conv_id) if m["id"] == first]
    assert m["delivery_state"] == "failed"
