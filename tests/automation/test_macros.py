"""Macros: saved action lists an operator runs on a conversation they see, through the same
executor as the rules (labels and canned responses by their own services)."""

from tests.automation.conftest import World, settle
from tests.conftest import create_operator
from tests.helpers import auth


async def test_an_operator_runs_a_macro_and_a_rule_reads_its_label(world: World) -> None:
    run, admin = world.run, auth(world.admin)
    r = await run.client.post("/api/v1/labels", json={"name": "VIP"}, headers=admin)
    assert r.status_code == 201, r.text
    r = await run.client.post(
        "/api/v1/canned-responses",
        json={"scope": "shared", "short_code": "callback", "content": "We will call you back"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    canned_id = r.json()["id"]
    op = auth(await create_operator(run, "op@example.com", "operator"))
    other = auth(await create_operator(run, "other@example.com", "operator"))

    r = await run.client.post(
        "/api/v1/macros",
        json={"name": "Shared", "shared": True, "actions": [{"type": "resolve"}]},
        headers=op,
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "admins_only"
    r = await run.client.post(
        "/api/v1/macros",
        json={
            "name": "VIP callback",
            "actions": [
                {"type": "add_label", "name": "vip"},
                {"type": "send_canned", "canned_response_id": canned_id},
                {"type": "set_priority", "priority": 2},
                {"type": "assign_operator", "operator_id": 999999},  # refused, noted
            ],
        },
        headers=op,
    )
    assert r.status_code == 201, r.text
    macro = r.json()
    assert macro["shared"] is False
    r = await run.client.get("/api/v1/macros", headers=other)
    assert r.json() == []  # a personal macro is its owner's
    url = f"/api/v1/conversations/{world.conversation_id}/macros/{macro['id']}/run"
    assert (await run.client.post(url, headers=other)).status_code == 404

    # A rule that waits for the label: it fires on the client's next message, once.
    await world.rule(
        trigger={"type": "message.created"},
        conditions=[{"type": "label", "names": ["VIP"]}],
        actions=[{"type": "add_note", "text": "VIP wrote"}],
    )
    r = await run.client.post(url, headers=op)
    assert r.status_code == 200, r.text
    assert r.json() == {"actions_run": 3}
    conv = await world.conversation()
    assert conv["priority"] == 2
    assert conv["labels"] == ["VIP"]
    messages = await world.messages()
    assert [m["text"] for m in messages if m["direction"] == "outbound"] == [
        "We will call you back"
    ]
    notes = [m["text"] for m in messages if m["direction"] == "internal"]
    assert notes[:3] == [
        "Macro «VIP callback»: label vip added",
        f"Macro «VIP callback»: canned response {canned_id} sent",
        "Macro «VIP callback»: priority set to 2",
    ]
    assert notes[3].startswith("Macro «VIP callback»: assign_operator failed")
    audited = await world.scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'macro.action' AND actor_kind = 'operator'"
    )
    assert audited == 4

    await world.say("it's me again")
    await settle(run)
    notes = [m["text"] for m in await world.messages() if m["direction"] == "internal"]
    assert notes[-1] == "VIP wrote" and notes.count("VIP wrote") == 1
