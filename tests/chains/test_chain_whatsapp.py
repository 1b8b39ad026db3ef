"""The chain over WhatsApp: free text inside the 24-hour window, the approved template
outside it, and a flagged order when the window is closed and no template is mapped."""

import asyncio
from datetime import timedelta
from typing import Any

from tests.chains.support import drain, post_event, put_order, rows, shop_key
from tests.conftest import Running
from tests.whatsapp.fake_graph import FakeGraph
from tests.whatsapp.support import (
    CLIENT,
    create_whatsapp,
    fixture,
    only_conversation,
    post_webhook,
    set_last_inbound,
)

TEMPLATES = [{"name": "order_accepted", "language": "ru", "parameters": 3}]


async def _client_wrote(run: Running, graph: FakeGraph, **settings: Any) -> tuple[str, int, int]:
    admin = await run.admin_token()
    channel = await create_whatsapp(run.client, admin, graph, **settings)
    r = await post_webhook(run.client, channel["id"], fixture("webhook_text"))
    assert r.status_code == 200
    conv = await only_conversation(run.client, admin)
    return admin, channel["id"], conv["id"]


async def test_whole_chain_over_whatsapp(run: Running, graph: FakeGraph) -> None:
    admin, _, _ = await _client_wrote(run, graph)
    key = await shop_key(run.client, admin)
    await put_order(
        run.client,
        key,
        "A-77",
        client={"wa_id": CLIENT},
        first_name="Kerry",
        language="ru",
        promised_date="2026-12-01",
    )
    events = [
        ("1", "accepted", {}),
        ("4", "delayed", {"days": 2, "reason": "погода"}),
        ("2", "shipped", {}),  # late: after the delay notice
        ("5", "arrived_in_city", {}),
        ("7", "delivered", {}),
        ("6", "out_for_delivery", {}),  # late: after delivered
    ]
    for event_id, status, extra in events:
        pair = await asyncio.gather(
            *(post_event(run.client, key, "A-77", event_id, status, **extra) for _ in range(2))
        )
        assert pair[0].json() == pair[1].json()
    await drain(run.ctx)
    bodies = [s.body for s in graph.sends]
    assert {b["to"] for b in bodies} == {CLIENT}
    assert {b["type"] for b in bodies} == {"text"}
    texts = [b["text"]["body"] for b in bodies]
    assert len(texts) == 5, texts
    assert texts[0].startswith(
        "Здравствуйте, Kerry! Заказ A-77 принят. Обещанная дата доставки: 01.12.2026."
    )
    assert texts[1].startswith(
        "Приносим извинения: заказ A-77 задерживается на 2 дн. Причина: погода."
    )
    assert texts[2].startswith("Заказ A-77 прибыл в ваш город.")
    assert texts[3] == "Заказ A-77 доставлен. Спасибо за покупку!"
    assert texts[4] == "Как прошла доставка? Оцените от 1 (плохо) до 5 (отлично)."


async def test_outside_the_window_the_template_goes_out(run: Running, graph: FakeGraph) -> None:
    admin, _, conv_id = await _client_wrote(
        run, graph, templates=TEMPLATES, chain_templates={"accepted": "order_accepted"}
    )
    await set_last_inbound(run.ctx, conv_id, timedelta(hours=25))
    key = await shop_key(run.client, admin)
    await put_order(
        run.client,
        key,
        "B-1",
        client={"phone": "+1 650 555 1234"},  # the wa_id in digits
        first_name="Kerry",
        language="ru",
        promised_date="2026-12-01",
    )
    r = await post_event(run.client, key, "B-1", "a", "accepted")
    assert r.json()["outcome"] == "sent", r.text
    await drain(run.ctx)
    [send] = graph.sends
    assert send.body["type"] == "template"
    assert send.body["template"] == {
        "name": "order_accepted",
        "language": {"code": "ru"},
        "components": [
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Kerry"},
                    {"type": "text", "text": "B-1"},
                    {"type": "text", "text": "01.12.2026"},
                ],
            }
        ],
    }
    # The conversation shows the text the client would read.
    [(kind, text)] = await rows(
        run.ctx, "SELECT kind, text FROM messages WHERE direction = 'outbound'"
    )
    assert kind == "template" and text.startswith("Здравствуйте, Kerry! Заказ B-1 принят.")

    # shipped has no approved template: nothing can reach the client, the manager is told.
    r = await post_event(run.client, key, "B-1", "b", "shipped")
    assert r.json()["outcome"] == "flagged"
    order = (await run.client.get("/api/v1/orders/B-1", headers=key)).json()
    assert order["flagged"] is True
    assert order["flag_reason"] == "whatsapp_window_closed_no_template"
    alerts = await rows(
        run.ctx,
        "SELECT step, reaction, meta->>'alert' FROM touchpoints WHERE kind = 'alert'",
    )
    assert [tuple(a) for a in alerts] == [
        ("shipped", "negative", "whatsapp_window_closed_no_template")
    ]
    await drain(run.ctx)
    assert len(graph.sends) == 1


async def test_no_reachable_channel_flags_the_order(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    key = await shop_key(run.client, admin)
    order = await put_order(run.client, key, "C-1", client={"email": "nobody@example.com"})
    r = await post_event(run.client, key, "C-1", "a", "accepted")
    assert r.json()["outcome"] == "flagged"
    again = await run.client.get("/api/v1/orders/C-1", headers=key)
    assert again.json()["flag_reason"] == "no_reachable_channel"
    assert (
        await rows(run.ctx, "SELECT email FROM contacts WHERE id = :i", i=order["contact_id"])
    ) == [("nobody@example.com",)]
