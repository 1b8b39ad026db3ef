"""Agent bots against a real local receiver: a bot's channel starts new conversations with
the bot, the bot hears them (signed), answers through the outbox, and hands off to routing
once; its token reaches nothing else."""

import asyncio
import json
import logging
from typing import Any

import pytest
from sqlalchemy import text
from standardwebhooks import Webhook

from tests.conftest import Running, create_operator
from tests.helpers import auth, create_webchat, visitor_post, visitor_session
from tests.webhooks.receiver import Receiver, eventually, receiver
from tests.webhooks.test_delivery import FAST


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return FAST


async def scalar(run: Running, sql: str, **params: Any) -> Any:
    async with run.ctx.sessions() as s:
        return await s.scalar(text(sql), params)


async def make_bot(
    run: Running, admin: str, url: str, channel_ids: list[int], **extra: Any
) -> dict[str, Any]:
    r = await run.client.post(
        "/api/v1/agent-bots",
        json={"name": "Helper", "url": url, "channel_ids": channel_ids, **extra},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    assert data["access_token"].startswith("ccbot_") and data["secret"].startswith("whsec_")
    return data


async def client_opens(run: Running, key: str, words: str = "Hello") -> tuple[str, int]:
    """A visitor writes on the widget; (their token, the conversation id)."""
    token = (await visitor_session(run.client, key))["visitor_token"]
    r = await visitor_post(run.client, key, token, words)
    assert r.status_code == 201, r.text
    return token, int(r.json()["message"]["conversation_id"])


async def online_operator(run: Running, admin: str, email: str = "op@example.com") -> int:
    token = await create_operator(run, email, "operator")
    me = (await run.client.get("/api/v1/operators/me", headers=auth(token))).json()
    r = await run.client.post(
        f"/api/v1/operators/{me['id']}/presence", json={"presence": "online"}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    return int(me["id"])


def bodies(rec: Receiver, path: str, secret: str) -> list[dict[str, Any]]:
    return [Webhook(secret).verify(got.body, got.headers) for got in rec.delivered(path)]


async def test_bot_hears_answers_through_the_outbox_and_hands_off_to_routing(
    run: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await run.admin_token()
    op = await online_operator(run, admin)
    channel = await create_webchat(run.client, admin)
    async with receiver() as rec:
        bot = await make_bot(run, admin, f"{rec.base_url}/bot", [channel["id"]])
        visitor, conv = await client_opens(run, channel["public_key"])

        # With the bot: not routed, not in the queue, counted apart.
        assert await scalar(run, "SELECT status FROM conversations WHERE id = :c", c=conv) == "bot"
        assert (
            await scalar(run, "SELECT assignee_id FROM conversations WHERE id = :c", c=conv) is None
        )
        counts = (await run.client.get("/api/v1/conversations/counts", headers=auth(admin))).json()
        assert (counts["queue"], counts["bot"]) == (0, 1)
        queue = await run.client.get("/api/v1/conversations?assignee=none", headers=auth(admin))
        assert queue.json()["items"] == []
        listed = await run.client.get("/api/v1/conversations?status=bot", headers=auth(admin))
        assert [c["id"] for c in listed.json()["items"]] == [conv]

        # The bot hears the opening and the client's message, signed with its secret.
        await eventually(lambda: len(rec.delivered("/bot")) == 2)
        got = bodies(rec, "/bot", bot["secret"])
        assert [b["type"] for b in got] == ["conversation.created", "message.created"]
        assert {b["data"]["conversation_id"] for b in got} == {conv}

        # It reads the text and answers with its token: queued to the channel like a reply.
        bearer = auth(bot["access_token"])
        r = await run.client.get(f"/api/v1/agent-bot/conversations/{conv}/messages", headers=bearer)
        assert r.status_code == 200, r.text
        assert [m["text"] for m in r.json()] == ["Hello"]
        r = await run.client.post(
            f"/api/v1/agent-bot/conversations/{conv}/messages",
            json={"text": "Hi, I am the bot", "client_message_id": "a1"},
            headers=bearer,
        )
        assert r.status_code == 201, r.text
        answer = r.json()
        assert answer["sender_type"] == "bot" and answer["direction"] == "outbound"
        assert (
            await scalar(run, "SELECT count(*) FROM outbox WHERE message_id = :m", m=answer["id"])
            == 1
        )
        # The same client_message_id again is the same message.
        again = await run.client.post(
            f"/api/v1/agent-bot/conversations/{conv}/messages",
            json={"text": "Hi, I am the bot", "client_message_id": "a1"},
            headers=bearer,
        )
        assert again.json()["id"] == answer["id"]

        async def client_got_it() -> bool:
            widget = await run.client.get(
                f"/widget/v1/{channel['public_key']}/messages", headers=auth(visitor)
            )
            return "Hi, I am the bot" in json.dumps(widget.json())

        # The outbox's dispatcher sends it on the client's channel.
        await eventually(client_got_it)
        # Its own message is not echoed to it: the client's next one is.
        r = await visitor_post(run.client, channel["public_key"], visitor, "I want a person")
        assert r.status_code == 201
        await eventually(lambda: len(rec.delivered("/bot")) == 3)
        assert bodies(rec, "/bot", bot["secret"])[-1]["data"]["direction"] == "inbound"

        # Handoff: open, routed to the online operator within capacity.
        r = await run.client.post(f"/api/v1/conversations/{conv}/handoff", headers=bearer)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "conversation_id": conv,
            "status": "open",
            "assignee_id": op,
            "handed_off": True,
        }
        # No longer the bot's: it cannot write or hand off again.
        r = await run.client.post(
            f"/api/v1/agent-bot/conversations/{conv}/messages", json={"text": "x"}, headers=bearer
        )
        assert r.status_code == 404
        # The client's next message is the operator's business, not the bot's.
        r = await visitor_post(run.client, channel["public_key"], visitor, "hello?")
        assert r.status_code == 201
        await asyncio.sleep(1.0)
        assert len(rec.delivered("/bot")) == 3

    # The token and the secret are shown once: never in a listing or the logs; stored hashed.
    listed = (await run.client.get("/api/v1/agent-bots", headers=auth(admin))).json()
    assert bot["access_token"] not in json.dumps(listed) and "secret" not in listed[0]
    assert bot["access_token"] not in caplog.text
    stored = await scalar(run, "SELECT token_hash || token_prefix FROM agent_bots")
    assert bot["access_token"].rsplit("_", 1)[1] not in stored
    # A bot's endpoint is not an admin's webhook.
    assert (await run.client.get("/api/v1/webhooks", headers=auth(admin))).json() == []


async def test_bot_token_reaches_only_its_own_conversations(run: Running) -> None:
    admin = await run.admin_token()
    mine = await create_webchat(run.client, admin)
    other = await create_webchat(run.client, admin)
    bot = await make_bot(run, admin, "http://127.0.0.1:9/bot", [mine["id"]])
    _, own = await client_opens(run, mine["public_key"])
    _, foreign = await client_opens(run, other["public_key"])
    assert await scalar(run, "SELECT status FROM conversations WHERE id = :c", c=foreign) == "open"
    bearer = auth(bot["access_token"])

    for conv in (foreign, 987654321):
        r = await run.client.get(f"/api/v1/agent-bot/conversations/{conv}/messages", headers=bearer)
        assert r.status_code == 404
        r = await run.client.post(
            f"/api/v1/agent-bot/conversations/{conv}/messages", json={"text": "x"}, headers=bearer
        )
        assert r.status_code == 404
        r = await run.client.post(f"/api/v1/conversations/{conv}/handoff", headers=bearer)
        assert r.status_code == 404
    assert await scalar(run, "SELECT status FROM conversations WHERE id = :c", c=foreign) == "open"
    assert await scalar(run, "SELECT count(*) FROM messages WHERE sender_type = 'bot'") == 0

    # Every other route refuses the bot's token (it is nobody's operator token or API key).
    for method, url in [
        ("GET", "/api/v1/conversations"),
        ("GET", f"/api/v1/conversations/{own}"),
        ("GET", f"/api/v1/conversations/{own}/messages"),
        ("POST", f"/api/v1/conversations/{own}/messages"),
        ("POST", f"/api/v1/conversations/{own}/status"),
        ("GET", "/api/v1/contacts"),
        ("GET", "/api/v1/agent-bots"),
        ("POST", f"/api/v1/agent-bots/{bot['id']}/rotate-token"),
        ("GET", "/api/v1/webhooks"),
    ]:
        r = await run.client.request(method, url, headers=bearer, json={"text": "x"})
        assert r.status_code == 401, (method, url, r.text)
    r = await run.client.get(
        f"/api/v1/agent-bot/conversations/{own}/messages",
        headers={"X-Api-Key": bot["access_token"]},
    )
    assert r.status_code == 401  # a bot token is a Bearer token only

    # An operator's token is no bot's; a rotated token stops working at once.
    r = await run.client.get(f"/api/v1/agent-bot/conversations/{own}/messages", headers=auth(admin))
    assert r.status_code == 401
    r = await run.client.post(f"/api/v1/agent-bots/{bot['id']}/rotate-token", headers=auth(admin))
    assert r.status_code == 200
    new = r.json()["access_token"]
    old = await run.client.get(f"/api/v1/agent-bot/conversations/{own}/messages", headers=bearer)
    assert old.status_code == 401
    ok = await run.client.get(f"/api/v1/agent-bot/conversations/{own}/messages", headers=auth(new))
    assert ok.status_code == 200
    # A switched-off bot: its token stops, its conversations go to the people.
    r = await run.client.patch(
        f"/api/v1/agent-bots/{bot['id']}", json={"is_active": False}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    assert await scalar(run, "SELECT status FROM conversations WHERE id = :c", c=own) == "open"
    r = await run.client.get(f"/api/v1/agent-bot/conversations/{own}/messages", headers=auth(new))
    assert r.status_code == 401


async def test_concurrent_handoffs_route_once(run: Running) -> None:
    admin = await run.admin_token()
    await online_operator(run, admin, "a@example.com")
    await online_operator(run, admin, "b@example.com")
    channel = await create_webchat(run.client, admin)
    bot = await make_bot(run, admin, "http://127.0.0.1:9/bot", [channel["id"]])
    _, conv = await client_opens(run, channel["public_key"])
    calls = [auth(bot["access_token"])] * 4 + [auth(admin)] * 4
    answers = await asyncio.gather(
        *(run.client.post(f"/api/v1/conversations/{conv}/handoff", headers=h) for h in calls)
    )
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert sum(a.json()["handed_off"] for a in answers) == 1
    assert (
        await scalar(
            run,
            "SELECT count(*) FROM touchpoints WHERE conversation_id = :c AND kind = 'assignment'",
            c=conv,
        )
        == 1
    )
    assert (
        await scalar(
            run,
            "SELECT count(*) FROM domain_events WHERE name = 'conversation.assigned'"
            " AND aggregate_id = :c",
            c=conv,
        )
        == 1
    )


async def test_operators_hand_off_what_they_see_and_bots_validate(run: Running) -> None:
    admin = await run.admin_token()
    channel = await create_webchat(run.client, admin)
    bot = await make_bot(run, admin, "http://127.0.0.1:9/bot", [channel["id"]])
    _, conv = await client_opens(run, channel["public_key"])
    # An operator who sees it (no team: everyone's) may; the queue takes it (nobody online).
    op = await create_operator(run, "op@example.com", "operator")
    r = await run.client.post(f"/api/v1/conversations/{conv}/handoff", headers=auth(op))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open" and r.json()["assignee_id"] is None
    assert await scalar(
        run, "SELECT queued_at IS NOT NULL FROM conversations WHERE id = :c", c=conv
    )
    r = await run.client.post(f"/api/v1/conversations/{conv}/handoff", headers=auth(op))
    assert r.json()["handed_off"] is False
    r = await run.client.post(f"/api/v1/conversations/{conv}/handoff")
    assert r.status_code == 401
    # Nobody sets the status "bot" by hand.
    r = await run.client.post(
        f"/api/v1/conversations/{conv}/status", json={"status": "bot"}, headers=auth(admin)
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_status"
    # One bot per channel; an unknown channel; a private URL.
    r = await run.client.post(
        "/api/v1/agent-bots",
        json={"name": "B", "url": "http://127.0.0.1:9/b", "channel_ids": [channel["id"]]},
        headers=auth(admin),
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "channel_has_bot"
    r = await run.client.post(
        "/api/v1/agent-bots",
        json={"name": "B", "url": "http://127.0.0.1:9/b", "channel_ids": [987654]},
        headers=auth(admin),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_channel"
    r = await run.client.post(
        "/api/v1/agent-bots",
        json={"name": "B", "url": "http://10.0.0.1/b", "channel_ids": []},
        headers=auth(admin),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "url_not_allowed"
    assert await scalar(run, "SELECT count(*) FROM agent_bots") == 1
    # Deleting the bot takes its endpoint with it.
    r = await run.client.delete(f"/api/v1/agent-bots/{bot['id']}", headers=auth(admin))
    assert r.status_code == 204
    assert await scalar(run, "SELECT count(*) FROM webhook_endpoints") == 0


async def test_a_rule_hands_off_when_the_client_asks_for_a_person(run: Running) -> None:
    admin = await run.admin_token()
    op = await online_operator(run, admin)
    channel = await create_webchat(run.client, admin)
    await make_bot(run, admin, "http://127.0.0.1:9/bot", [channel["id"]])
    r = await run.client.post(
        "/api/v1/automation-rules",
        json={
            "name": "person",
            "trigger": {"type": "message.created"},
            "conditions": [{"type": "text_contains", "values": ["оператор"]}],
            "actions": [{"type": "handoff"}],
        },
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    visitor, conv = await client_opens(run, channel["public_key"], "Здравствуйте")
    await asyncio.sleep(1.5)  # the rule ran on that one and did nothing
    assert await scalar(run, "SELECT status FROM conversations WHERE id = :c", c=conv) == "bot"
    r = await visitor_post(run.client, channel["public_key"], visitor, "Позовите оператора")
    assert r.status_code == 201

    async def handed() -> bool:
        row = await scalar(
            run,
            "SELECT status || ':' || coalesce(assignee_id, 0) FROM conversations WHERE id = :c",
            c=conv,
        )
        return bool(row == f"open:{op}")

    await eventually(handed)
    notes = await scalar(
        run,
        "SELECT string_agg(text, '|') FROM messages"
        " WHERE conversation_id = :c AND direction = 'internal'",
        c=conv,
    )
    assert "handed off to the people" in notes
