"""Defects found by driving the WhatsApp channel as Meta does: large bodies, statuses faster
than the send's own answer, late redeliveries, edits and deletions, other message kinds,
reachability after 131026, and media downloads while Meta is away."""

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

from tests.conftest import Running
from tests.helpers import auth, create_webchat, visitor_session
from tests.whatsapp.fake_graph import GRAPH, FakeGraph
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
    set_last_inbound,
    status,
    text_message,
    wait_for_state,
)


async def _conversation(run: Running, admin: str, graph: FakeGraph) -> tuple[int, int]:
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    r = await post_webhook(run.client, channel_id, envelope([text_message("wamid.hi", "hi")]))
    assert r.status_code == 200, r.text
    return channel_id, (await only_conversation(run.client, admin))["id"]


async def test_webhook_bodies_up_to_3_mb(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    # Meta batches up to 3 MB: a body of 1 MB is stored; other endpoints keep 256 KB.
    big = envelope([text_message(f"wamid.big{i}", "x" * 4000) for i in range(250)])
    body = json.dumps(big).encode()
    assert 900_000 < len(body) < 3 * 1024 * 1024
    r = await post_webhook(run.client, channel_id, body)
    assert r.status_code == 200, r.text
    assert r.json()["messages"] == 250
    too_big = body + b" " * (3 * 1024 * 1024)
    r = await post_webhook(run.client, channel_id, too_big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    key = (await create_webchat(run.client, admin))["public_key"]
    token = (await visitor_session(run.client, key))["visitor_token"]
    r = await run.client.post(
        f"/widget/v1/{key}/messages",
        content=json.dumps({"text": "x" * 300_000}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert r.status_code == 413


async def test_status_before_the_send_is_recorded(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id, conv_id = await _conversation(run, admin, graph)
    # Meta's "delivered" arrives while our send still waits for its HTTP answer.
    graph.send_answers = [("sleep", 1.5)]
    r = await reply(run.client, admin, conv_id, text="On its way")
    message_id = r.json()["id"]
    await graph.wait_for_sends(1)
    early = envelope(statuses=[status("wamid.fake.1", "delivered", ts=int(time.time()))])
    r = await post_webhook(run.client, channel_id, early)
    assert r.status_code == 200 and r.json()["statuses"] == 0
    m = await wait_for_state(run.client, admin, conv_id, message_id, ("delivered",))
    assert m["delivery_state"] == "delivered"
    assert await count(run.ctx, "pending_statuses") == 0


async def test_status_kept_until_swept_or_expired(run: Running, graph: FakeGraph) -> None:
    from app.delivery import pending_statuses

    admin = await run.admin_token()
    channel_id, _ = await _conversation(run, admin, graph)
    # A status for an id no send of ours has (yet) is kept, once, and dropped when old.
    body = envelope(statuses=[status("wamid.unknown", "read")])
    for _ in range(2):
        assert (await post_webhook(run.client, channel_id, body)).status_code == 200
    assert await count(run.ctx, "pending_statuses") == 1
    async with run.ctx.engine.begin() as conn:
        from sqlalchemy import text

        await conn.execute(
            text("UPDATE pending_statuses SET received_at = now() - interval '2 hours'")
        )
    async with run.ctx.sessions() as session:
        await pending_statuses.sweep(session)
        await session.commit()
    assert await count(run.ctx, "pending_statuses") == 0


async def test_sweep_applies_a_status_that_raced_the_record(run: Running, graph: FakeGraph) -> None:
    from sqlalchemy import text

    from app.delivery import pending_statuses

    admin = await run.admin_token()
    _, conv_id = await _conversation(run, admin, graph)
    r = await reply(run.client, admin, conv_id, text="Hello")
    message_id = r.json()["id"]
    await wait_for_state(run.client, admin, conv_id, message_id, ("sent",))
    # What a status committed while the send's record was committing leaves behind: kept,
    # though its message is recorded now. The sweep applies it.
    async with run.ctx.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO pending_statuses (channel_account_id, provider_message_id, state) "
                "SELECT channel_account_id, provider_message_id, 'read' FROM messages "
                "WHERE id = :id"
            ),
            {"id": message_id},
        )
    async with run.ctx.sessions() as session:
        assert await pending_statuses.sweep(session) == 1
        await session.commit()
    m = await wait_for_state(run.client, admin, conv_id, message_id, ("read",))
    assert m["delivery_state"] == "read"
    assert await count(run.ctx, "pending_statuses") == 0


async def test_window_counts_from_the_clients_timestamp(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    # Meta delivers, 30 hours late, a message we never got: the window stays closed.
    written = int((datetime.now(UTC) - timedelta(hours=30)).timestamp())
    late = envelope([text_message("wamid.late", "still there?", ts=written)])
    assert (await post_webhook(run.client, channel_id, late)).json()["messages"] == 1
    conv = await only_conversation(run.client, admin)
    assert conv["reply_window_open"] is False
    r = await reply(run.client, admin, conv["id"], text="Yes!")
    assert r.status_code == 409 and r.json()["error"]["code"] == "whatsapp_window_closed"

    # The client writes now: open. Its message 30 hours old, redelivered: no change.
    fresh = envelope([text_message("wamid.now", "hello again")])
    assert (await post_webhook(run.client, channel_id, fresh)).json()["messages"] == 1
    conv = await only_conversation(run.client, admin)
    assert conv["reply_window_open"] is True
    await set_last_inbound(run.ctx, conv["id"], timedelta(hours=30))
    old = envelope([text_message("wamid.now", "hello again", ts=written)])
    assert (await post_webhook(run.client, channel_id, old)).json()["duplicates"] == 1
    conv = await only_conversation(run.client, admin)
    assert conv["reply_window_open"] is False
    # The identity (what delivery chains check) did not move either.
    assert (
        await count(run.ctx, "contact_identities", "last_inbound_at < now() - interval '29 hours'")
        == 1
    )


async def test_edit_and_revoke_change_the_original(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id, conv_id = await _conversation(run, admin, graph)
    ts = int(time.time())
    edit = {
        "from": CLIENT,
        "id": "wamid.edit1",
        "timestamp": str(ts),
        "type": "edit",
        "edit": {
            "original_message_id": "wamid.hi",
            "message": {"type": "text", "text": {"body": "hi, order #4521 please"}},
        },
    }
    r = await post_webhook(run.client, channel_id, envelope([edit]))
    assert r.status_code == 200 and r.json()["edits"] == 1 and r.json()["messages"] == 0
    [m] = await messages_of(run.client, admin, conv_id)
    assert m["text"] == "hi, order #4521 please" and m["edited_at"] is not None
    assert m["deleted_at"] is None

    revoke = {
        "from": CLIENT,
        "id": "wamid.revoke1",
        "timestamp": str(ts + 1),
        "type": "revoke",
        "revoke": {"original_message_id": "wamid.hi"},
    }
    r = await post_webhook(run.client, channel_id, envelope([revoke]))
    assert r.json()["edits"] == 1
    [m] = await messages_of(run.client, admin, conv_id)
    assert m["text"] is None and m["deleted_at"] is not None and m["kind"] == "text"
    # Redelivered, or an edit arriving after the deletion: nothing changes, no new rows.
    r = await post_webhook(run.client, channel_id, envelope([edit, revoke]))
    assert r.json() == {"messages": 0, "duplicates": 0, "statuses": 0, "edits": 0}
    assert await count(run.ctx, "messages") == 1


async def test_edit_is_pushed_as_message_updated(run: Running, graph: FakeGraph) -> None:
    from app.core.session import Event

    admin = await run.admin_token()
    channel_id, _ = await _conversation(run, admin, graph)
    seen: list[Event] = []

    async def listen(events: list[Event]) -> None:
        seen.extend(events)

    run.ctx.bus.subscribe(listen)
    revoke = {
        "from": CLIENT,
        "id": "wamid.revoke2",
        "timestamp": str(int(time.time())),
        "type": "revoke",
        "revoke": {"original_message_id": "wamid.hi"},
    }
    await post_webhook(run.client, channel_id, envelope([revoke]))
    async with asyncio.timeout(5):
        while not any(e["type"] == "message.updated" for e in seen):
            await asyncio.sleep(0.02)


async def test_other_kinds_read_as_text(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id, conv_id = await _conversation(run, admin, graph)
    ts = str(int(time.time()))
    order = {
        "catalog_id": "cat-1",
        "text": "Gift wrap please",
        "product_items": [
            {
                "product_retailer_id": "mug-red",
                "quantity": 2,
                "item_price": 12.5,
                "currency": "EUR",
            },
            {"product_retailer_id": "tea", "quantity": 1, "item_price": 5, "currency": "EUR"},
        ],
    }
    flow = {
        "type": "nfm_reply",
        "nfm_reply": {
            "name": "flow",
            "body": "Sent",
            "response_json": json.dumps({"flow_token": "t-1", "size": "M", "colour": "red"}),
        },
    }
    call = {
        "type": "call_permission_reply",
        "call_permission_reply": {
            "response": "accept",
            "is_permanent": False,
            "expiration_timestamp": 1767225600,
            "response_source": "user_action",
        },
    }
    system = {
        "body": "User Kerry Fisher changed from 16505551234 to 16505559999",
        "wa_id": "16505559999",
        "type": "user_changed_number",
    }
    base = {"from": CLIENT, "timestamp": ts}
    kinds = [
        {**base, "id": "wamid.o", "type": "order", "order": order},
        {**base, "id": "wamid.f", "type": "interactive", "interactive": flow},
        {**base, "id": "wamid.c", "type": "interactive", "interactive": call},
        {**base, "id": "wamid.s", "type": "system", "system": system},
    ]
    r = await post_webhook(run.client, channel_id, envelope(kinds))
    assert r.json()["messages"] == 4
    items = (await messages_of(run.client, admin, conv_id))[1:]
    assert [(m["kind"], m["text"]) for m in items] == [
        ("order", "Order: 2 × mug-red (12.5 EUR), 1 × tea (5 EUR). Gift wrap please"),
        ("flow_reply", "Form answered: size: M; colour: red"),
        ("call_permission", "Call permission granted until 2026-01-01 00:00 UTC"),
        ("system", "User Kerry Fisher changed from 16505551234 to 16505559999"),
    ]


async def test_unreachable_clears_when_the_client_writes(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id, conv_id = await _conversation(run, admin, graph)
    graph.send_answers = [(400, GRAPH["error_undeliverable"])]
    r = await reply(run.client, admin, conv_id, text="Hello")
    await wait_for_state(run.client, admin, conv_id, r.json()["id"], ("failed",))
    assert await count(run.ctx, "contact_identities", "NOT reachable") == 1
    # A redelivery of what the client wrote before proves nothing ...
    redelivered = envelope([text_message("wamid.hi", "hi", ts=int(time.time()) - 60)])
    await post_webhook(run.client, channel_id, redelivered)
    assert await count(run.ctx, "contact_identities", "NOT reachable") == 1
    # ... a new message does (WhatsApp timestamps are whole seconds: a second later than the
    # client's last one, as a message written after the failed reply is).
    later = envelope([text_message("wamid.back", "back", ts=int(time.time()) + 1)])
    await post_webhook(run.client, channel_id, later)
    assert await count(run.ctx, "contact_identities", "reachable") == 1
    assert await count(run.ctx, "contact_identities", "unreachable_reason IS NULL") == 1


async def test_media_while_meta_is_away(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    await post_webhook(run.client, channel_id, fixture("webhook_image"))
    conv_id = (await only_conversation(run.client, admin))["id"]
    [image] = await messages_of(run.client, admin, conv_id)
    url = f"/api/v1/messages/{image['id']}/attachments/0"
    # Meta's media lookup answers 500: a retry may work, so not "media unavailable".
    graph.media_answers = [(500, {"error": {"code": 2, "message": "Service temporarily"}})]
    r = await run.client.get(url, headers=auth(admin))
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "provider_unavailable"
    assert int(r.headers["retry-after"]) >= 1
    # Meta cannot be reached at all: the same.
    async with run.ctx.sessions() as session:
        from app.channels.models import ChannelAccount

        channel = await session.get(ChannelAccount, channel_id)
        assert channel is not None
        channel.settings = {**channel.settings, "graph_api_base": "http://127.0.0.1:9/v23.0"}
        await session.commit()
    r = await run.client.get(url, headers=auth(admin))
    assert r.status_code == 503 and "retry-after" in r.headers
