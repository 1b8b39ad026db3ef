"""A whole delivery chain for one order over Telegram: every event posted twice (the copies
at once), some out of order; exactly the expected messages reach the Bot API, in order,
each once; the courier buttons and the feedback rating come back as touchpoints."""

import asyncio
import copy
from typing import Any

from tests.chains.support import FAST, drain, post_event, put_order, rows, shop_key
from tests.conftest import Running
from tests.helpers import auth
from tests.telegram.fake_bot_api import FakeBotApi, load_update
from tests.telegram.helpers import create_bot, deliver, secret_of

CHAT = "518003941"  # the sender of update_text.json
WINDOW = {"start": "2026-11-27T10:00:00+03:00", "end": "2026-11-27T14:00:00+03:00"}

# (event id, status, extra); shipped arrives after in_transit, courier_scheduled is repeated
# under a new id after out_for_delivery: both are recorded and never sent.
EVENTS: list[tuple[str, str, dict[str, Any]]] = [
    ("e1", "accepted", {}),
    ("e3", "in_transit", {}),
    ("e2", "shipped", {}),
    ("e4", "arrived_in_city", {}),
    ("e5", "courier_scheduled", {"window": WINDOW}),
    ("e6", "out_for_delivery", {}),
    ("e5b", "courier_scheduled", {"window": WINDOW}),
    ("e7", "delivered", {}),
]
EXPECTED_OUTCOMES = {
    "e1": "sent",
    "e3": "disabled",  # in_transit does not notify by default
    "e2": "late",
    "e4": "sent",
    "e5": "sent",
    "e6": "sent",
    "e5b": "late",
    "e7": "sent",
}


async def test_whole_chain_over_telegram(run: Running, fake_api: FakeBotApi) -> None:
    admin = await run.admin_token()
    bot = await create_bot(run.client, admin, **FAST)
    r = await deliver(run.client, bot["id"], load_update("update_text"), secret_of(fake_api))
    assert r.status_code == 200
    key = await shop_key(run.client, admin)
    order = await put_order(
        run.client,
        key,
        "4521",
        client={"telegram_id": CHAT},
        first_name="Anna",
        language="en",
        promised_date="2026-11-28",
        items=[{"sku": "chair", "qty": 2}],
        amount={"value": "120.00", "currency": "EUR"},
    )
    [(contact_id,)] = await rows(run.ctx, "SELECT contact_id FROM contact_identities")
    assert order["contact_id"] == contact_id
    assert order["tracking_url"].startswith("https://chat.example.com/track/")

    answers: dict[str, list[Any]] = {}
    for event_id, status, extra in EVENTS:
        pair = await asyncio.gather(
            *(post_event(run.client, key, "4521", event_id, status, **extra) for _ in range(2))
        )
        assert [p.status_code for p in pair] == [200, 200], [p.text for p in pair]
        answers[event_id] = [p.json() for p in pair]
        if event_id == "e4":
            await drain(run.ctx)  # part of the chain goes out while events still arrive
    await drain(run.ctx)
    again = await post_event(run.client, key, "4521", "e4", "arrived_in_city")
    assert again.json() == answers["e4"][0]

    for event_id, (first, second) in answers.items():
        assert first == second, event_id  # the repeat answers exactly as the first did
        assert first["outcome"] == EXPECTED_OUTCOMES[event_id], (event_id, first)

    sends = fake_api.calls_of("sendMessage")
    assert [c.params["chat_id"] for c in sends] == [CHAT] * 6
    texts = [c.params["text"] for c in sends]
    order_id = (await rows(run.ctx, "SELECT id FROM orders"))[0][0]
    assert texts == [
        f"Hi Anna! Your order 4521 is accepted. Promised delivery: 28 Nov 2026. "
        f"Track it here: {order['tracking_url']}",
        "Your order 4521 has arrived in your city. The courier service will call you to "
        "agree a delivery time.",
        "The courier will bring your order 4521 on 27 Nov 2026 10:00–14:00. "
        "Does this time suit you?",
        "The courier is on the way with your order 4521.",
        "Your order 4521 has been delivered. Thank you for shopping with us!",
        "How did the delivery go? Rate it from 1 (poor) to 5 (excellent).",
    ]
    keyboard = sends[2].params["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for b in keyboard[0]] == [
        f"chain:{order_id}:courier_scheduled:confirm",
        f"chain:{order_id}:courier_scheduled:reschedule",
    ]
    assert [b["callback_data"] for b in sends[5].params["reply_markup"]["inline_keyboard"][0]] == [
        f"csat:{n}" for n in range(1, 6)
    ]

    # Visible in the client's one conversation, each step a delivery touchpoint once.
    [(conv_id,)] = await rows(run.ctx, "SELECT id FROM conversations")
    r = await run.client.get(
        "/api/v1/touchpoints", params={"conversation_id": conv_id}, headers=auth(admin)
    )
    chain = [
        (t["kind"], t["step"], t["order_id"])
        for t in reversed(r.json()["items"])
        if t["chain"] == "delivery"
    ]
    assert chain == [
        ("notification", "accepted", order_id),
        ("notification", "arrived_in_city", order_id),
        ("notification", "courier_scheduled", order_id),
        ("notification", "out_for_delivery", order_id),
        ("notification", "delivered", order_id),
        ("survey", "feedback", None),
    ]
    messages = await run.client.get(
        f"/api/v1/conversations/{conv_id}/messages", headers=auth(admin)
    )
    outbound = [m for m in messages.json()["items"] if m["direction"] == "outbound"]
    assert [m["delivery_state"] for m in outbound] == ["sent"] * 6

    # The client presses "Confirm", then rates the delivery: both come back as touchpoints.
    press = copy.deepcopy(load_update("update_callback_query"))
    press["callback_query"]["data"] = f"chain:{order_id}:courier_scheduled:confirm"
    press["callback_query"]["message"]["reply_markup"] = sends[2].params["reply_markup"]
    r = await deliver(run.client, bot["id"], press, secret_of(fake_api))
    assert r.status_code == 200
    rating = copy.deepcopy(load_update("update_text"))
    rating["update_id"] += 100
    rating["message"]["message_id"] += 100
    rating["message"]["text"] = "5"
    r = await deliver(run.client, bot["id"], rating, secret_of(fake_api))
    assert r.status_code == 200
    touches = await rows(
        run.ctx,
        "SELECT kind, reaction FROM touchpoints"
        " WHERE conversation_id = :c AND direction = 'inbound' ORDER BY id",
        c=conv_id,
    )
    assert [tuple(t) for t in touches][-2:] == [("button", "positive"), ("survey", "positive")]
    assert await rows(run.ctx, "SELECT rating FROM surveys") == [(5,)]

    r = await run.client.get("/api/v1/orders/4521", headers=key)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "delivered"
    assert [e["event_id"] for e in body["events"]] == [e[0] for e in EVENTS]
    assert body["flagged"] is False
