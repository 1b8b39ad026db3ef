"""The orders API itself: validation per status, event ids, templates, the tracking page,
and the exactly-once of integration sends."""

import asyncio
import re

from app.core.html import CSP
from tests.chains.support import FAST, drain, post_event, put_order, rows, shop_key
from tests.conftest import Running
from tests.helpers import auth
from tests.telegram.fake_bot_api import FakeBotApi, load_update
from tests.telegram.helpers import create_bot, deliver, secret_of

CHAT = "518003941"


async def _telegram_client(run: Running, fake_api: FakeBotApi) -> tuple[str, int]:
    admin = await run.admin_token()
    bot = await create_bot(run.client, admin, **FAST)
    await deliver(run.client, bot["id"], load_update("update_text"), secret_of(fake_api))
    return admin, bot["id"]


async def test_validation_and_event_ids(run: Running, fake_api: FakeBotApi) -> None:
    admin, _ = await _telegram_client(run, fake_api)
    key = await shop_key(run.client, admin)
    r = await run.client.put("/api/v1/orders/o1", json={"client": {}}, headers=key)
    assert r.status_code == 422
    first = await run.client.put(
        "/api/v1/orders/o1", json={"client": {"telegram_id": CHAT}}, headers=key
    )
    assert first.status_code == 201
    second = await run.client.put(
        "/api/v1/orders/o1",
        json={"client": {"telegram_id": CHAT}, "promised_date": "2026-12-24"},
        headers=key,
    )
    assert second.status_code == 200
    assert second.json()["promised_date"] == "2026-12-24"
    assert second.json()["tracking_url"] == first.json()["tracking_url"]

    assert (await post_event(run.client, key, "o1", "d", "delayed", days=2)).status_code == 422
    assert (await post_event(run.client, key, "o1", "d", "delayed", reason="x")).status_code == 422
    assert (await post_event(run.client, key, "o1", "c", "courier_scheduled")).status_code == 422
    assert (await post_event(run.client, key, "o1", "z", "teleported")).status_code == 422
    assert (await post_event(run.client, key, "nope", "a", "accepted")).status_code == 404
    assert (await post_event(run.client, key, "o1", "a", "accepted")).json()["outcome"] == "sent"
    reused = await post_event(run.client, key, "o1", "a", "shipped")
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "event_id_reused"
    # The same step under another event id: recorded, not sent again.
    assert (await post_event(run.client, key, "o1", "a2", "accepted")).json()[
        "outcome"
    ] == "repeated"
    await drain(run.ctx)
    assert len(fake_api.calls_of("sendMessage")) == 1


async def test_templates_are_editable(run: Running, fake_api: FakeBotApi) -> None:
    admin, _ = await _telegram_client(run, fake_api)
    key = await shop_key(run.client, admin)
    listed = await run.client.get("/api/v1/chain-templates", headers=auth(admin))
    assert listed.status_code == 200
    keys = {(t["status"], t["language"]) for t in listed.json()}
    assert len(keys) == 26 and ("courier_scheduled", "ru") in keys

    bad = await run.client.put(
        "/api/v1/chain-templates/accepted/en",
        json={"text": "Order {order} for {full_name}"},
        headers=auth(admin),
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid_template"
    operator = await run.operator_token()
    denied = await run.client.put(
        "/api/v1/chain-templates/accepted/en", json={"text": "x"}, headers=auth(operator)
    )
    assert denied.status_code == 403
    r = await run.client.put(
        "/api/v1/chain-templates/accepted/en",
        json={"text": "x", "enabled": False},
        headers=auth(admin),
    )
    assert r.status_code == 200 and r.json()["enabled"] is False
    r = await run.client.put(
        "/api/v1/chain-templates/in_transit/en",
        json={"text": "{first_name}, order {order} is on the road."},
        headers=auth(admin),
    )
    assert r.status_code == 200

    await put_order(run.client, key, "t1", client={"telegram_id": CHAT}, first_name="Anna")
    assert (await post_event(run.client, key, "t1", "1", "accepted")).json()[
        "outcome"
    ] == "disabled"
    assert (await post_event(run.client, key, "t1", "2", "in_transit")).json()["outcome"] == "sent"
    await drain(run.ctx)
    assert [c.params["text"] for c in fake_api.calls_of("sendMessage")] == [
        "Anna, order t1 is on the road."
    ]


async def test_tracking_page(run: Running, fake_api: FakeBotApi) -> None:
    admin, _ = await _telegram_client(run, fake_api)
    key = await shop_key(run.client, admin)
    order = await put_order(
        run.client,
        key,
        "T-9",
        client={"telegram_id": CHAT, "phone": "+79990001122", "email": "anna@example.com"},
        first_name="Anna",
        promised_date="2026-12-02",
        items=[{"sku": "secret-sku-123"}],
        amount={"value": "999.99"},
    )
    await post_event(run.client, key, "T-9", "1", "accepted", occurred_at="2026-11-23T09:00:00Z")
    await post_event(run.client, key, "T-9", "2", "shipped", occurred_at="2026-11-24T09:00:00Z")
    await post_event(
        run.client,
        key,
        "T-9",
        "3",
        "delayed",
        days=2,
        reason="<script>alert(1)</script>",
        occurred_at="2026-11-26T09:00:00Z",
    )
    token = order["tracking_url"].rsplit("/", 1)[1]
    assert len(token) >= 32
    page = await run.client.get(f"/track/{token}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    # The console's security headers: no framing, no sniffing, no inline code, no referrer
    # (the token is in the URL).
    assert page.headers["content-security-policy"] == CSP
    assert "style-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    html = page.text
    assert "<style" not in html and " style=" not in html  # the CSP allows no inline style
    [sheet] = re.findall(r'<link rel="stylesheet" href="([^"]+)">', html)
    css = await run.client.get(sheet)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    stages = re.findall(r'<li class="(\w*)">(.*?)</li>', html)
    assert [s[0] for s in stages] == ["done", "done", "", "warn", "", ""]
    assert "Order accepted" in stages[0][1] and "23 Nov 2026" in stages[0][1]
    assert "Shipped" in stages[1][1] and "24 Nov 2026" in stages[1][1]
    assert "In transit" in stages[2][1] and "pending" in stages[2][1]
    assert "Delayed by 2 day(s): &lt;script&gt;alert(1)&lt;/script&gt;" in stages[3][1]
    assert "Delivered" in stages[5][1]
    assert "Hello, Anna!" in html and "2 Dec 2026" in html
    assert "<script>" not in html
    # The contact's own name (from Telegram), phone, email and the order contents stay out.
    [(name,)] = await rows(run.ctx, "SELECT name FROM contacts")
    for private in (name, "79990001122", "anna@example.com", "secret-sku", "999.99", CHAT):
        assert private and private not in html, private
    assert (await run.client.get("/track/not-a-real-token")).status_code == 404


async def test_integration_sends_are_exactly_once(run: Running, fake_api: FakeBotApi) -> None:
    """Bots sending other order updates through POST /api/v1/messages with an
    idempotency_key: retried (even at once) they store and send one message."""
    admin, bot_id = await _telegram_client(run, fake_api)
    r = await run.client.post(
        "/api/v1/api-keys", json={"name": "bot", "scopes": ["messages:write"]}, headers=auth(admin)
    )
    key = {"X-Api-Key": r.json()["key"]}
    [(contact_id,)] = await rows(run.ctx, "SELECT id FROM contacts")
    body = {
        "idempotency_key": "order-4521-gift-wrap",
        "contact_id": contact_id,
        "channel_id": bot_id,
        "text": "Your order 4521 will be gift-wrapped.",
    }
    answers = await asyncio.gather(
        *(run.client.post("/api/v1/messages", json=body, headers=key) for _ in range(5))
    )
    assert {a.status_code for a in answers} <= {200, 201}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    await drain(run.ctx)
    again = await run.client.post("/api/v1/messages", json=body, headers=key)
    assert again.json()["id"] == answers[0].json()["id"]
    await drain(run.ctx)
    sends = fake_api.calls_of("sendMessage")
    assert [c.params["text"] for c in sends] == ["Your order 4521 will be gift-wrapped."]
