"""Automation rules: once per event (also under concurrent delivery), never on their own
effects, visible in the conversation, capped per minute, and the dry run writes nothing."""

import asyncio
import base64
import os
import pickle
import sys
import time
from pathlib import Path
from typing import Any

from app.automation import engine
from app.automation.conditions import Facts, matches
from app.automation.language import guess
from app.automation.schemas import TextMatchesCondition
from app.inbox.models import Conversation
from tests.automation.conftest import CAP, World, settle, visible
from tests.helpers import auth


async def test_a_rule_runs_once_per_event_and_shows_as_system_notes(world: World) -> None:
    rule = await world.rule(
        trigger={"type": "message.created"},
        conditions=[{"type": "text_contains", "values": ["PRICE"]}],
        actions=[{"type": "set_priority", "priority": 5}, {"type": "add_note", "text": "Hot"}],
    )
    await world.say("and the weather?")  # no match
    await settle(world.run)
    assert (await world.conversation())["priority"] == 0
    await world.say("What is the price?")
    await settle(world.run)
    assert (await world.conversation())["priority"] == 5
    notes = [m for m in await world.messages() if m["direction"] == "internal"]
    assert [(n["sender_type"], n["text"]) for n in notes] == [
        ("system", "Rule «r»: priority set to 5"),
        ("system", "Hot"),
    ]
    audited = await world.scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'automation.action' AND target_id = :c",
        c=world.conversation_id,
    )
    assert audited == 2

    # Redelivery: the consumer reads everything again; the claims hold.
    await world.scalar("UPDATE event_consumers SET last_event_id = 1 RETURNING 1")
    await settle(world.run)
    assert len([m for m in await world.messages() if m["direction"] == "internal"]) == 2
    runs = await world.scalar(
        "SELECT count(*) FROM automation_runs WHERE rule_id = :r AND actions_run > 0",
        r=rule["id"],
    )
    assert runs == 1


async def test_concurrent_deliveries_run_a_rule_once(world: World) -> None:
    await world.rule(
        trigger={"type": "message.created"},
        actions=[{"type": "add_note", "text": "Seen"}],
    )
    await world.say("one")
    await world.say("two")
    await visible(world)
    # Eight readers at once, each on its own connection, all reading the same events.
    read = await asyncio.gather(*(engine.drain(world.run.ctx, {}) for _ in range(8)))
    assert read.count(0) < 7  # several really read them concurrently
    await settle(world.run)
    notes = [m["text"] for m in await world.messages() if m["direction"] == "internal"]
    assert notes == ["Seen", "Seen"]  # one per message, never more


async def test_a_rule_that_sends_does_not_retrigger_on_its_own_message(world: World) -> None:
    await world.rule(
        # Outgoing messages too: only the origin marker keeps this from answering itself.
        trigger={"type": "message.created", "include_outgoing": True},
        actions=[{"type": "send_message", "text": "Thanks, we are on it"}],
    )
    await world.say("help")
    for _ in range(3):
        await settle(world.run)
    sent = [m for m in await world.messages() if m["direction"] == "outbound"]
    assert [m["text"] for m in sent] == ["Thanks, we are on it"]
    origin = await world.scalar(
        "SELECT actor_kind FROM domain_events WHERE name = 'message.created' "
        "AND (payload->>'message_id')::bigint = :m",
        m=sent[0]["id"],
    )
    assert origin == "automation"


async def test_the_rate_cap_holds_per_conversation_and_minute(world: World) -> None:
    await world.rule(
        trigger={"type": "message.created"},
        actions=[
            {"type": "set_priority", "priority": 1},
            {"type": "set_priority", "priority": 2},
            {"type": "set_priority", "priority": 3},
        ],
    )
    for word in ("a", "b", "c"):
        await world.say(word)
    await settle(world.run)
    ran = await world.scalar(
        "SELECT sum(actions_run) FROM automation_runs WHERE conversation_id = :c",
        c=world.conversation_id,
    )
    assert ran == CAP
    capped = await world.scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'automation.rate_capped'"
    )
    assert capped == 2  # the second message's rule ran in part, the third's not at all
    notes = [m["text"] for m in await world.messages() if m["direction"] == "internal"]
    assert sum("limit of 4 automated actions" in n for n in notes) == 2


async def test_dry_run_shows_what_would_happen_and_changes_nothing(world: World) -> None:
    rule = await world.rule(
        trigger={"type": "message.created"},
        conditions=[
            {"type": "text_matches", "pattern": r"\border\s+#?\d+"},
            {"type": "language", "language": "en"},
        ],
        actions=[{"type": "resolve"}],
    )
    events_before = await world.scalar("SELECT count(*) FROM domain_events")
    r = await world.run.client.post(
        f"/api/v1/automation-rules/{rule['id']}/dry-run",
        json={
            "type": "message.created",
            "conversation_id": world.conversation_id,
            "text": "Where is order #123?",
        },
        headers=auth(world.admin),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["trigger_matches"] and body["would_run"]
    assert [c["matched"] for c in body["conditions"]] == [True, True]
    assert body["actions"] == [{"type": "resolve"}]
    r = await world.run.client.post(
        f"/api/v1/automation-rules/{rule['id']}/dry-run",
        json={
            "type": "message.created",
            "conversation_id": world.conversation_id,
            "text": "Где мой заказ 123?",
        },
        headers=auth(world.admin),
    )
    assert [c["matched"] for c in r.json()["conditions"]] == [False, False]
    assert r.json()["would_run"] is False and r.json()["actions"] == []
    assert (await world.conversation())["status"] == "open"
    assert await world.scalar("SELECT count(*) FROM automation_runs") == 0
    assert await world.scalar("SELECT count(*) FROM domain_events") == events_before


async def test_no_reply_fires_once_per_conversation(world: World) -> None:
    await world.rule(
        trigger={"type": "no_reply", "minutes": 5},
        actions=[{"type": "add_note", "text": "Nobody answered"}],
    )
    assert await engine.fire_no_reply(world.run.ctx) == 0  # not yet
    await world.scalar(
        "UPDATE conversations SET last_inbound_at = now() - interval '6 minutes' "
        "WHERE id = :c RETURNING 1",
        c=world.conversation_id,
    )
    fired = await asyncio.gather(*(engine.fire_no_reply(world.run.ctx) for _ in range(3)))
    assert sum(fired) == 1
    assert await engine.fire_no_reply(world.run.ctx) == 0
    notes = [m["text"] for m in await world.messages() if m["direction"] == "internal"]
    assert notes == ["Nobody answered"]


async def test_rule_bodies_are_validated(world: World) -> None:
    bad: list[dict[str, Any]] = [
        {"trigger": {"type": "message.deleted"}, "actions": [{"type": "resolve"}]},
        {"trigger": {"type": "no_reply"}, "actions": [{"type": "resolve"}]},
        {
            "trigger": {"type": "message.created"},
            "conditions": [{"type": "text_matches", "pattern": "(unclosed"}],
            "actions": [{"type": "resolve"}],
        },
        {"trigger": {"type": "message.created"}, "actions": [{"type": "explode"}]},
        {"trigger": {"type": "message.created"}, "actions": []},
    ]
    for body in bad:
        r = await world.run.client.post(
            "/api/v1/automation-rules", json={"name": "x", **body}, headers=auth(world.admin)
        )
        assert r.status_code == 422, (body, r.text)
    assert await world.scalar("SELECT count(*) FROM automation_rules") == 0


async def test_rules_are_listed_in_their_order(world: World) -> None:
    a = await world.rule(trigger={"type": "conversation.created"}, actions=[{"type": "resolve"}])
    b = await world.rule(trigger={"type": "conversation.resolved"}, actions=[{"type": "resolve"}])
    h = auth(world.admin)
    r = await world.run.client.put(
        "/api/v1/automation-rules/order", json={"rule_ids": [b["id"], a["id"]]}, headers=h
    )
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()] == [b["id"], a["id"]]
    r = await world.run.client.put(
        "/api/v1/automation-rules/order", json={"rule_ids": [b["id"]]}, headers=h
    )
    assert r.status_code == 422
    r = await world.run.client.patch(
        f"/api/v1/automation-rules/{a['id']}", json={"active": False}, headers=h
    )
    assert r.json()["active"] is False
    r = await world.run.client.delete(f"/api/v1/automation-rules/{a['id']}", headers=h)
    assert r.status_code == 204
    actions = await world.scalar(
        "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log "
        "WHERE action LIKE 'automation_rule.%'"
    )
    assert actions == (
        "automation_rule.create,automation_rule.create,automation_rule.order,"
        "automation_rule.update,automation_rule.delete"
    )


def test_a_catastrophic_pattern_times_out_as_no_match() -> None:
    conv = Conversation(channel_account_id=1, team_id=None)
    facts = Facts(conv, None, "a" * 40 + "!")
    started = time.monotonic()
    assert not matches(TextMatchesCondition(type="text_matches", pattern=r"^(a+)+$"), facts)
    assert time.monotonic() - started < 2


def test_the_language_guess() -> None:
    assert guess("Здравствуйте, где мой заказ?") == "ru"
    assert guess("Hello, where is my order? Заказ") == "en"
    assert guess("👍 123") is None


async def test_business_hours_condition_asks_the_teams_schedule(world: World) -> None:
    # A conversation of no team is always open (app.business_hours).
    rule = await world.rule(
        trigger={"type": "conversation.created"},
        conditions=[{"type": "business_hours", "open": True}],
        actions=[{"type": "add_note", "text": "open"}],
    )
    closed = await world.rule(
        trigger={"type": "conversation.created"},
        conditions=[{"type": "business_hours", "open": False}],
        actions=[{"type": "add_note", "text": "closed"}],
    )
    sample = {"type": "conversation.created", "conversation_id": world.conversation_id}
    for r, expected in ((rule, True), (closed, False)):
        got = await world.run.client.post(
            f"/api/v1/automation-rules/{r['id']}/dry-run", json=sample, headers=auth(world.admin)
        )
        assert got.json()["would_run"] is expected, got.text


async def test_send_webhook_queues_a_signed_delivery_through_app_webhooks(world: World) -> None:
    r = await world.run.client.post(
        "/api/v1/webhooks",
        json={"url": "https://crm.example.com/hook", "events": ["conversation.created"]},
        headers=auth(world.admin),
    )
    assert r.status_code == 201, r.text
    endpoint = r.json()["id"]
    rule = await world.rule(
        trigger={"type": "message.created"},
        actions=[
            {"type": "send_webhook", "endpoint_id": endpoint},
            {"type": "send_webhook", "endpoint_id": 999999},  # unknown: noted as failed
        ],
    )
    await world.say("hi")
    await settle(world.run)
    body = await world.scalar(
        "SELECT body FROM webhook_deliveries WHERE endpoint_id = :e AND event_type = "
        "'automation.triggered' AND conversation_id = :c",
        e=endpoint,
        c=world.conversation_id,
    )
    assert body["data"] == {
        "conversation_id": world.conversation_id,
        "contact_id": body["data"]["contact_id"],
        "rule_id": rule["id"],
    }
    notes = [m["text"] for m in await world.messages() if m["direction"] == "internal"]
    assert notes[0] == f"Rule «r»: webhook {endpoint} queued"
    assert notes[1].startswith("Rule «r»: send_webhook failed")


async def test_concurrent_processes_run_a_rule_once(world: World) -> None:
    """Four worker processes (as on four nodes) read the same events at the same moment."""
    await world.rule(
        trigger={"type": "message.created"},
        actions=[{"type": "add_note", "text": "Once"}],
    )
    await world.say("from many nodes")
    await visible(world)
    script = Path(__file__).with_name("drain_once.py")
    start = time.time() + 3  # every interpreter is up by then
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(script),
            base64.b64encode(pickle.dumps(world.run.ctx.settings)).decode(),
            str(start),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        for _ in range(4)
    ]
    outputs = [await p.communicate() for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs[0][1].decode()[-2000:]
    read = [int(out.strip() or 0) for out, _ in outputs]
    assert sum(1 for n in read if n > 0) >= 2, read  # several really read the event
    await settle(world.run)
    notes = [m["text"] for m in await world.messages() if m["direction"] == "internal"]
    assert notes == ["Once"]


async def test_a_broken_rule_does_not_stop_the_others(world: World) -> None:
    good = await world.rule(
        trigger={"type": "message.created"}, actions=[{"type": "add_note", "text": "Still here"}]
    )
    # A body no API call could store (edited by hand): it fails to load when it runs.
    await world.scalar(
        "INSERT INTO automation_rules (name, position, trigger, actions) VALUES "
        '(\'broken\', -1, \'{"type": "message.created"}\', \'[{"type": "explode"}]\') '
        "RETURNING id"
    )
    await world.say("anyone?")
    await settle(world.run)
    notes = [m["text"] for m in await world.messages() if m["direction"] == "internal"]
    assert notes == ["Still here"]
    ran = await world.scalar("SELECT array_agg(rule_id) FROM automation_runs")
    assert ran == [good["id"]]


async def test_a_stage_change_triggers_on_the_clients_active_conversation(world: World) -> None:
    await world.rule(
        trigger={"type": "contact.changed", "fields": ["stage"]},
        conditions=[{"type": "contact_stage", "values": ["customer"]}],
        actions=[{"type": "set_priority", "priority": 7}],
    )
    contact_id = await world.scalar(
        "SELECT contact_id FROM conversations WHERE id = :c", c=world.conversation_id
    )
    h = auth(world.admin)
    r = await world.run.client.patch(
        f"/api/v1/contacts/{contact_id}", json={"name": "N"}, headers=h
    )
    assert r.status_code == 200, r.text
    await settle(world.run)
    assert (await world.conversation())["priority"] == 0  # not the stage
    r = await world.run.client.patch(
        f"/api/v1/contacts/{contact_id}", json={"stage": "customer"}, headers=h
    )
    assert r.status_code == 200, r.text
    await settle(world.run)
    assert (await world.conversation())["priority"] == 7
