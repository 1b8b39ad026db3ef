"""A VK client in the rest of the product: a new conversation is routed to the team's
online operator, its messages are touchpoints, and a shop's order naming the client's VK
id is notified over VK (once per step, buttons as VK's inline keyboard, a press back as a
button touchpoint)."""

import json
from typing import Any

import pytest

from tests.chains.support import drain, post_event, put_order, rows, shop_key
from tests.conftest import Running, create_operator
from tests.connectors.vk.fake_vk import GROUP_ID, SECRET, TOKEN, USER_ID, FakeVk
from tests.helpers import auth
from tests.vk.conftest import vk_settings
from tests.vk.helpers import event, post

WINDOW = {"start": "2026-11-27T10:00:00+03:00", "end": "2026-11-27T14:00:00+03:00"}


@pytest.fixture
def settings_overrides(vk: FakeVk) -> dict[str, Any]:
    return vk_settings(vk, run_workers=False)  # the test drives the dispatcher


async def routed_community(run: Running, admin: str) -> tuple[int, int]:
    """A community whose channel belongs to a team with one online operator."""
    token = await create_operator(run, "op@example.com", "operator")
    me = await run.client.get("/api/v1/operators/me", headers=auth(token))
    op = int(me.json()["id"])
    r = await run.client.post(
        f"/api/v1/operators/{op}/presence", json={"presence": "online"}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    r = await run.client.post(
        "/api/v1/teams", json={"name": "Sales", "member_ids": [op]}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    r = await run.client.post(
        "/api/v1/channels",
        json={
            "type": "vk",
            "name": "Flora",
            "team_id": r.json()["id"],
            "settings": {"group_id": GROUP_ID, "rate_per_chat": "1000/second"},
            "credentials": {"access_token": TOKEN, "secret": SECRET},
        },
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"]), op


async def test_routing_touchpoints_and_a_delivery_chain_over_vk(run: Running, vk: FakeVk) -> None:
    admin = await run.admin_token()
    channel_id, op = await routed_community(run, admin)
    assert (await post(run.client, channel_id, event("message_new_text"))).status_code == 200
    [(conv_id, assignee, team)] = await rows(
        run.ctx, "SELECT id, assignee_id, team_id FROM conversations"
    )
    assert assignee == op and team is not None  # routed to the team's online operator
    [(kind, channel)] = await rows(
        run.ctx,
        "SELECT kind, channel FROM touchpoints"
        " WHERE conversation_id = :c AND direction = 'inbound'",
        c=conv_id,
    )
    assert (kind, channel) == ("message", "vk")

    key = await shop_key(run.client, admin)
    order = await put_order(
        run.client,
        key,
        "4521",
        client={"vk_id": f"https://vk.com/id{USER_ID}"},
        first_name="Анна",
        language="ru",
        promised_date="2026-11-28",
    )
    [(contact_id,)] = await rows(run.ctx, "SELECT contact_id FROM contact_identities")
    assert order["contact_id"] == contact_id  # found by the VK id, not a new contact
    for event_id, status, extra in (
        ("e1", "accepted", {}),
        ("e5", "courier_scheduled", {"window": WINDOW}),
    ):
        for _ in range(2):  # a shop repeats itself: sent once all the same
            r = await post_event(run.client, key, "4521", event_id, status, **extra)
            assert r.status_code == 200, r.text
    await drain(run.ctx)

    sent = vk.delivered
    assert [d["peer_ids"] for d in sent] == [str(USER_ID)] * 2
    assert "4521" in sent[0]["message"] and "4521" in sent[1]["message"]
    keyboard = json.loads(sent[1]["keyboard"])
    [order_id] = [r[0] for r in await rows(run.ctx, "SELECT id FROM orders")]
    payloads = [json.loads(b["action"]["payload"]) for b in keyboard["buttons"][0]]
    assert payloads[0] == {"button": f"chain:{order_id}:courier_scheduled:confirm"}
    assert keyboard["inline"] is True
    chain = await rows(
        run.ctx,
        "SELECT kind, step FROM touchpoints WHERE chain = 'delivery' ORDER BY id",
    )
    assert [tuple(t) for t in chain] == [
        ("notification", "accepted"),
        ("notification", "courier_scheduled"),
    ]

    # The client presses "Confirm" in VK: a button touchpoint.
    press = event(
        "message_new_button",
        payload=keyboard["buttons"][0][0]["action"]["payload"],
        text=keyboard["buttons"][0][0]["action"]["label"],
    )
    assert (await post(run.client, channel_id, press)).status_code == 200
    touches = await rows(
        run.ctx,
        "SELECT kind FROM touchpoints"
        " WHERE conversation_id = :c AND direction = 'inbound' ORDER BY id",
        c=conv_id,
    )
    assert [t[0] for t in touches] == ["message", "button"]


async def test_a_client_who_denied_messages_is_not_notified_over_vk(
    run: Running, vk: FakeVk
) -> None:
    admin = await run.admin_token()
    channel_id, _ = await routed_community(run, admin)
    assert (await post(run.client, channel_id, event("message_new_text"))).status_code == 200
    assert (await post(run.client, channel_id, event("message_deny"))).status_code == 200
    key = await shop_key(run.client, admin)
    await put_order(run.client, key, "77", client={"vk_id": str(USER_ID)}, first_name="Анна")
    r = await post_event(run.client, key, "77", "e1", "accepted")
    assert r.status_code == 200, r.text
    await drain(run.ctx)
    assert vk.delivered == []
    [(flagged, reason)] = await rows(run.ctx, "SELECT flagged, flag_reason FROM orders")
    assert flagged and reason == "no_reachable_channel"
