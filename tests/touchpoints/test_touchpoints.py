"""Every interaction writes exactly one touchpoint with the right fields (issue 6)."""

import csv
import io
from typing import Any

import pytest
from sqlalchemy import text

from app.delivery.dispatcher import Dispatcher
from tests.conftest import Running
from tests.helpers import auth, create_webchat, visitor_post, visitor_session


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def touchpoints(run: Running) -> list[Any]:
    async with run.ctx.sessions() as s:
        return list((await s.execute(text("SELECT * FROM touchpoints ORDER BY id"))).all())


async def setup(run: Running) -> tuple[str, str, int, int]:
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    token = (await visitor_session(run.client, key, name="Olga"))["visitor_token"]
    r = await visitor_post(run.client, key, token, "Hello")
    msg = r.json()["message"]
    return admin, token, msg["conversation_id"], msg["id"]


async def test_each_interaction_writes_one_touchpoint(run: Running) -> None:
    admin, _, conv, inbound_id = await setup(run)
    me = (await run.client.get("/api/v1/operators/me", headers=auth(admin))).json()["id"]
    contact = (await run.client.get(f"/api/v1/conversations/{conv}", headers=auth(admin))).json()[
        "contact"
    ]["id"]

    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await run.client.post(path, json=body, headers=auth(admin))
        assert r.status_code in (200, 201), r.text
        return dict(r.json())

    reply = await post(f"/api/v1/conversations/{conv}/messages", {"text": "Hi Olga"})
    note = await post(f"/api/v1/conversations/{conv}/messages", {"text": "VIP", "private": True})
    await post(f"/api/v1/conversations/{conv}/assign", {"assignee_id": me, "note": "mine"})
    await post(f"/api/v1/conversations/{conv}/status", {"status": "resolved"})
    r = await run.client.patch(
        f"/api/v1/contacts/{contact}", json={"stage": "qualified"}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    call = await post(
        "/api/v1/touchpoints",
        {"contact_id": contact, "kind": "call", "duration_seconds": 600, "note": "Discussed"},
    )
    email = await post(
        "/api/v1/touchpoints",
        {"contact_id": contact, "kind": "email", "channel": "email", "duration_seconds": 30},
    )

    rows = await touchpoints(run)
    shapes = [
        (r.kind, r.direction, r.channel, r.message_id, r.operator_id, r.recurrence, r.attention)
        for r in rows
    ]
    assert shapes == [
        ("message", "inbound", "webchat", inbound_id, None, "repeating", "long"),
        ("message", "outbound", "webchat", reply["id"], me, "repeating", "long"),
        ("note", "internal", "webchat", note["id"], me, "one_off", "short"),
        ("assignment", "internal", "webchat", None, me, "one_off", "short"),
        ("status_change", "internal", "webchat", None, me, "one_off", "short"),
        ("stage_change", "internal", "internal", None, me, "one_off", "short"),
        ("call", "outbound", "phone", None, me, "one_off", "long"),
        ("email", "outbound", "email", None, me, "one_off", "short"),
    ]
    assert all(r.contact_id == contact for r in rows)
    assert [r.conversation_id for r in rows[:5]] == [conv] * 5
    assert rows[4].meta == {"from": "open", "to": "resolved"}
    assert rows[5].meta == {"from": "lead", "to": "qualified"}
    assert call["meta"]["note"] == "Discussed" and email["attention"] == "short"


async def test_operator_marks_a_reaction(run: Running) -> None:
    admin, *_ = await setup(run)
    first = (await touchpoints(run))[0]
    r = await run.client.patch(
        f"/api/v1/touchpoints/{first.id}", json={"reaction": "positive"}, headers=auth(admin)
    )
    assert r.status_code == 200 and r.json()["reaction"] == "positive"
    r = await run.client.patch(
        f"/api/v1/touchpoints/{first.id}", json={"reaction": "great"}, headers=auth(admin)
    )
    assert r.status_code == 422


async def test_conversion_records_touch_number(run: Running) -> None:
    admin, _, conv, _ = await setup(run)
    contact = (await run.client.get(f"/api/v1/conversations/{conv}", headers=auth(admin))).json()[
        "contact"
    ]["id"]
    for text_ in ("Price?", "Delivery?"):
        await run.client.post(
            f"/api/v1/conversations/{conv}/messages", json={"text": text_}, headers=auth(admin)
        )
    await run.client.post(
        "/api/v1/touchpoints", json={"contact_id": contact, "kind": "call"}, headers=auth(admin)
    )
    # Internal touches do not count: 1 inbound + 2 replies + 1 call = touch 4.
    await run.client.post(
        f"/api/v1/conversations/{conv}/messages",
        json={"text": "note", "private": True},
        headers=auth(admin),
    )
    r = await run.client.patch(
        f"/api/v1/contacts/{contact}", json={"stage": "customer"}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    assert r.json()["conversion_touch"] == 4 and r.json()["converted_at"] is not None
    r = await run.client.patch(
        f"/api/v1/contacts/{contact}", json={"category": "Z"}, headers=auth(admin)
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_category"


async def test_timeline_and_csv_export(run: Running) -> None:
    admin, _, conv, _ = await setup(run)
    contact = (await run.client.get(f"/api/v1/conversations/{conv}", headers=auth(admin))).json()[
        "contact"
    ]["id"]
    await run.client.post(
        f"/api/v1/conversations/{conv}/messages", json={"text": "Hi"}, headers=auth(admin)
    )
    await Dispatcher(run.ctx).run_once()
    await run.client.post(
        "/api/v1/touchpoints", json={"contact_id": contact, "kind": "meeting"}, headers=auth(admin)
    )
    r = await run.client.get(f"/api/v1/contacts/{contact}/timeline", headers=auth(admin))
    assert [t["kind"] for t in r.json()] == ["message", "message", "meeting"]

    r = await run.client.get("/api/v1/touchpoints/export.csv", headers=auth(admin))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["kind"] for row in rows] == ["message", "message", "meeting"]
    assert rows[0]["contact_id"] == str(contact)
    r = await run.client.get(
        "/api/v1/touchpoints/export.csv",
        params={"from": "2001-01-01T00:00:00Z", "to": "2001-02-01T00:00:00Z"},
        headers=auth(admin),
    )
    assert r.text.strip().splitlines() == [
        "\ufeff"
        + ",".join(
            [
                "id",
                "occurred_at",
                "contact_id",
                "contact_name",
                "conversation_id",
                "message_id",
                "operator_id",
                "operator_name",
                "order_id",
                "channel",
                "direction",
                "kind",
                "chain",
                "step",
                "reaction",
                "recurrence",
                "attention",
            ]
        )
    ]


async def test_an_export_ending_before_any_window_is_refused(run: Running) -> None:
    admin = await run.admin_token()
    for params in ({"to": "0001-01-02T00:00:00Z"}, {"from": "2001-01-01", "to": "2000-01-01"}):
        r = await run.client.get(
            "/api/v1/touchpoints/export.csv", params=params, headers=auth(admin)
        )
        assert r.status_code == 422, (params, r.text)
    r = await run.client.get(
        "/api/v1/analytics/touches-per-client",
        params={"to": "0001-01-02T00:00:00Z"},
        headers=auth(admin),
    )
    assert r.status_code == 422, r.text
