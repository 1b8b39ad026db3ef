"""Labels over the API and the service an automation calls: the admins' catalogue, labels on
conversations and contacts within what the caller sees, the filters, the events."""

import asyncio
from typing import Any

import httpx
from sqlalchemy import text

from app.labels import service as labels_service
from tests.conftest import Running
from tests.helpers import auth
from tests.operators.test_authorization import World, make_world


async def _label(client: httpx.AsyncClient, admin: str, name: str, **extra: Any) -> dict:
    r = await client.post("/api/v1/labels", json={"name": name, **extra}, headers=auth(admin))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def _events(run: Running, name: str) -> list[dict[str, Any]]:
    async with run.ctx.sessions() as session:
        rows = await session.execute(
            text("SELECT payload FROM domain_events WHERE name = :n ORDER BY id"), {"n": name}
        )
        return [r[0] for r in rows.all()]


async def test_the_catalogue_is_the_admins_and_everyone_reads_it(run: Running) -> None:
    client = run.client
    admin, operator = await run.admin_token(), await run.operator_token()
    vip = await _label(client, admin, "VIP", colour="#FF0000", description="big clients")
    assert vip["colour"] == "#ff0000"

    r = await client.post("/api/v1/labels", json={"name": "vip"}, headers=auth(admin))
    assert r.status_code == 409 and r.json()["error"]["code"] == "label_exists"
    for bad in ({"name": ""}, {"name": "a,b"}, {"name": "ok", "colour": "red"}):
        r = await client.post("/api/v1/labels", json=bad, headers=auth(admin))
        assert r.status_code == 422, (bad, r.text)
    r = await client.post("/api/v1/labels", json={"name": "mine"}, headers=auth(operator))
    assert r.status_code == 403

    await _label(client, admin, "доставка")
    r = await client.get("/api/v1/labels", headers=auth(operator))
    assert [x["name"] for x in r.json()] == ["VIP", "доставка"]

    other = await _label(client, admin, "Hot")
    r = await client.patch(
        f"/api/v1/labels/{other['id']}", json={"name": "VIP"}, headers=auth(admin)
    )
    assert r.status_code == 409
    r = await client.patch(
        f"/api/v1/labels/{other['id']}", json={"name": "Warm"}, headers=auth(admin)
    )
    assert r.status_code == 200 and r.json()["name"] == "Warm"
    r = await client.delete(f"/api/v1/labels/{other['id']}", headers=auth(admin))
    assert r.status_code == 204
    r = await client.delete(f"/api/v1/labels/{other['id']}", headers=auth(admin))
    assert r.status_code == 404

    r = await client.get("/api/v1/audit-log", headers=auth(admin))
    actions = [e["action"] for e in r.json()["items"] if e["action"].startswith("label.")]
    assert actions == [
        "label.delete",
        "label.update",
        "label.create",
        "label.create",
        "label.create",
    ]


async def _world_with_labels(run: Running) -> World:
    w = await make_world(run)
    for name in ("VIP", "Hot", "Spam"):
        await _label(run.client, w.admin, name)
    return w


async def test_labels_on_a_conversation_within_what_the_caller_sees(run: Running) -> None:
    w = await _world_with_labels(run)
    client, url = run.client, f"/api/v1/conversations/{w.conversation_id}/labels"

    r = await client.post(url, json={"labels": ["vip", "HOT"]}, headers=auth(w.operator))
    assert r.status_code == 200, r.text
    assert r.json() == {"labels": ["Hot", "VIP"]}  # as the catalogue spells them

    r = await client.get(f"/api/v1/conversations/{w.conversation_id}", headers=auth(w.operator))
    assert r.json()["labels"] == ["Hot", "VIP"]
    for who, shown in ((w.operator, True), (w.outsider, False), (w.admin, True)):
        r = await client.get("/api/v1/conversations?label=vip", headers=auth(who))
        ids = [c["id"] for c in r.json()["items"]]
        assert (w.conversation_id in ids) is shown
    r = await client.get("/api/v1/conversations?label=Spam", headers=auth(w.admin))
    assert r.json()["items"] == []
    r = await client.get("/api/v1/conversations", headers=auth(w.operator))
    assert r.json()["items"][0]["labels"] == ["Hot", "VIP"]

    # Another team's operator can neither read nor change them.
    r = await client.post(url, json={"labels": []}, headers=auth(w.outsider))
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_conversation"
    r = await client.get(url, headers=auth(w.outsider))
    assert r.status_code == 403

    # An unknown label is refused, and nothing changes.
    r = await client.post(url, json={"labels": ["VIP", "Nope"]}, headers=auth(w.operator))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "unknown_label"
    assert r.json()["error"]["details"] == {"unknown": ["Nope"]}
    r = await client.get(url, headers=auth(w.operator))
    assert r.json() == {"labels": ["Hot", "VIP"]}

    r = await client.post(url, json={"labels": ["Spam", "VIP"]}, headers=auth(w.operator))
    assert r.json() == {"labels": ["Spam", "VIP"]}
    events = await _events(run, "conversation.labels_changed")
    assert [(e["added"], e["removed"], e["by"]) for e in events] == [
        (["Hot", "VIP"], [], w.operator_id),
        (["Spam"], ["Hot"], w.operator_id),
    ]

    # A rename shows everywhere at once; deleting a label takes it off.
    labels = {
        x["name"]: x["id"]
        for x in (await client.get("/api/v1/labels", headers=auth(w.admin))).json()
    }
    await client.patch(
        f"/api/v1/labels/{labels['Spam']}", json={"name": "Junk"}, headers=auth(w.admin)
    )
    await client.delete(f"/api/v1/labels/{labels['VIP']}", headers=auth(w.admin))
    r = await client.get(f"/api/v1/conversations/{w.conversation_id}", headers=auth(w.operator))
    assert r.json()["labels"] == ["Junk"]


async def test_labels_on_a_contact_and_the_contacts_filter(run: Running) -> None:
    w = await _world_with_labels(run)
    client, url = run.client, f"/api/v1/contacts/{w.contact_id}/labels"

    r = await client.post(url, json={"labels": ["VIP"]}, headers=auth(w.operator))
    assert r.status_code == 200 and r.json() == {"labels": ["VIP"]}
    r = await client.get(f"/api/v1/contacts/{w.contact_id}", headers=auth(w.operator))
    assert r.json()["labels"] == ["VIP"]
    for who, shown in ((w.operator, True), (w.outsider, False)):
        r = await client.get("/api/v1/contacts?label=VIP", headers=auth(who))
        assert (w.contact_id in [c["id"] for c in r.json()["items"]]) is shown
    r = await client.get("/api/v1/contacts?label=Hot", headers=auth(w.admin))
    assert r.json()["items"] == []
    r = await client.post(url, json={"labels": ["Hot"]}, headers=auth(w.outsider))
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_contact"
    # The conversation's labels are its own.
    r = await client.get(f"/api/v1/conversations/{w.conversation_id}", headers=auth(w.operator))
    assert r.json()["labels"] == []
    events = await _events(run, "contact.labels_changed")
    assert [(e["contact_id"], e["added"]) for e in events] == [(w.contact_id, ["VIP"])]


async def test_the_service_adds_once_even_when_called_concurrently(run: Running) -> None:
    """The automation's action: ten sessions add the same label at once; it is put on once
    and one event says so. Removing it twice removes it once."""
    w = await _world_with_labels(run)

    async def add() -> bool:
        async with run.ctx.sessions() as session:
            added = await labels_service.add_label(
                session, "conversation", w.conversation_id, "vip"
            )
            await session.commit()
            return added

    results = await asyncio.gather(*(add() for _ in range(10)))
    assert sorted(results) == [False] * 9 + [True]
    assert len(await _events(run, "conversation.labels_changed")) == 1

    async with run.ctx.sessions() as session:
        assert await labels_service.remove_label(session, "conversation", w.conversation_id, "VIP")
        assert not await labels_service.remove_label(
            session, "conversation", w.conversation_id, "VIP"
        )
        assert await labels_service.names_of(session, "conversation", w.conversation_id) == []
        await session.commit()
    events = await _events(run, "conversation.labels_changed")
    assert [(e["added"], e["removed"], e["by"]) for e in events] == [
        (["VIP"], [], None),
        ([], ["VIP"], None),
    ]
