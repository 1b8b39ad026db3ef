"""contact.created and touchpoint.created reach the endpoints subscribed to them, once each:
stored by the SQL that writes the contact (the identity upsert) and the touch (the touchpoint
log), so the ingest makes no extra round trip for them."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from standardwebhooks import Webhook

from tests.conftest import Running
from tests.helpers import auth, create_webchat, visitor_post, visitor_session
from tests.webhooks.receiver import eventually, receiver
from tests.webhooks.test_delivery import FAST, add_webhook


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return FAST


async def test_contact_and_touchpoint_created_delivered_once(run: Running) -> None:
    admin = await run.admin_token()
    channel = await create_webchat(run.client, admin)
    key = channel["public_key"]
    async with receiver() as rec:
        hook = await add_webhook(
            run, admin, f"{rec.base_url}/ok", ["contact.created", "touchpoint.created"]
        )
        visitor = (await visitor_session(run.client, key))["visitor_token"]
        for words in ("one", "two"):
            r = await visitor_post(run.client, key, visitor, words)
            assert r.status_code == 201, r.text
        conv = r.json()["message"]["conversation_id"]
        r = await run.client.post(
            f"/api/v1/conversations/{conv}/messages", json={"text": "hi"}, headers=auth(admin)
        )
        assert r.status_code == 201, r.text
        # The shop's order for someone never seen creates a contact in Python (app/chains).
        r = await run.client.put(
            "/api/v1/orders/o-1",
            json={"client": {"phone": "+79990001122", "name": "Ann"}},
            headers=auth(admin),
        )
        assert r.status_code in (200, 201), r.text

        async with run.ctx.sessions() as s:
            contacts = set(await s.scalars(text("SELECT id FROM contacts")))
            touches = set(await s.scalars(text("SELECT id FROM touchpoints")))
        assert len(contacts) == 2 and len(touches) >= 3

        def got(kind: str) -> list[dict[str, Any]]:
            bodies = [
                Webhook(hook["secret"]).verify(x.body, x.headers) for x in rec.delivered("/ok")
            ]
            return [b["data"] for b in bodies if b["type"] == kind]

        await eventually(
            lambda: (
                len(got("contact.created")) == 2 and len(got("touchpoint.created")) == len(touches)
            )
        )
        await asyncio.sleep(1.0)  # nothing more arrives
        assert sorted(d["contact_id"] for d in got("contact.created")) == sorted(contacts)
        touched = [d["touchpoint_id"] for d in got("touchpoint.created")]
        assert sorted(touched) == sorted(touches)  # each once
        inbound = [d for d in got("touchpoint.created") if d["direction"] == "inbound"]
        assert len(inbound) == 2 and {d["conversation_id"] for d in inbound} == {conv}
        first = next(d for d in got("contact.created") if d["channel_id"] is not None)
        assert first["channel_id"] == channel["id"]


async def stored_names(run: Running) -> dict[str, int]:
    async with run.ctx.sessions() as s:
        rows = await s.execute(text("SELECT name, count(*) FROM domain_events GROUP BY name"))
        return {name: n for name, n in rows}


async def test_neither_event_is_stored_while_no_active_endpoint_subscribes(run: Running) -> None:
    """They are read by webhooks alone: stored for nobody, every message's touch made the
    event readers of every process read a row for nothing (the CPU per message of issue 22).
    An endpoint for other events, or one turned off, does not count; once one subscribes,
    the next ones are stored (the SQL functions and the Python path alike)."""
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    async with receiver() as rec:
        await add_webhook(run, admin, f"{rec.base_url}/other", ["message.created"])
        off = await add_webhook(
            run, admin, f"{rec.base_url}/off", ["contact.created", "touchpoint.created"]
        )
        r = await run.client.patch(
            f"/api/v1/webhooks/{off['id']}", json={"is_active": False}, headers=auth(admin)
        )
        assert r.status_code == 200, r.text

        async def a_new_client_writes(order: str) -> None:
            visitor = (await visitor_session(run.client, key))["visitor_token"]
            r = await visitor_post(run.client, key, visitor, "hello")
            assert r.status_code == 201, r.text
            r = await run.client.put(  # a contact created in Python (app/chains)
                f"/api/v1/orders/{order}",
                json={"client": {"phone": f"+7999000{order[-4:]}", "name": "Ann"}},
                headers=auth(admin),
            )
            assert r.status_code in (200, 201), r.text

        await a_new_client_writes("o-0001")
        names = await stored_names(run)
        assert names.get("message.created") == 1
        assert "contact.created" not in names and "touchpoint.created" not in names

        await add_webhook(
            run, admin, f"{rec.base_url}/ok", ["contact.created", "touchpoint.created"]
        )
        await a_new_client_writes("o-0002")
        names = await stored_names(run)
        assert names.get("contact.created") == 2  # the visitor's and the order's
        assert names.get("touchpoint.created", 0) >= 1
