"""Outgoing webhooks against a real local receiver: once per endpoint and event, in order
per conversation, retried after 5xx and timeouts, signed per Standard Webhooks."""

import json
import logging
from typing import Any

import pytest
from sqlalchemy import text
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.conftest import Running
from tests.helpers import auth, create_webchat, visitor_post, visitor_session
from tests.webhooks.receiver import Receiver, eventually, receiver

FAST = {
    "webhook_allowed_networks": "127.0.0.1/32",
    "webhook_poll_seconds": 0.05,
    "webhook_backoff_initial_seconds": 0.05,
    "webhook_backoff_max_seconds": 0.2,
    # Generous for a loaded machine (an attempt that times out is retried: attempts != 2);
    # /slow holds its first answer longer than this.
    "webhook_timeout_seconds": 2.0,
}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return FAST


async def add_webhook(run: Running, admin: str, url: str, events: list[str]) -> dict[str, Any]:
    r = await run.client.post(
        "/api/v1/webhooks", json={"url": url, "events": events}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    assert data["secret"].startswith("whsec_")
    return data


async def client_writes(run: Running, admin: str, texts: list[str]) -> None:
    channel = await create_webchat(run.client, admin)
    key = channel["public_key"]
    token = (await visitor_session(run.client, key))["visitor_token"]
    for t in texts:
        r = await visitor_post(run.client, key, token, t)
        assert r.status_code in (200, 201), r.text


def verified(rec: Receiver, path: str, secret: str) -> list[dict[str, Any]]:
    """The bodies received at `path`, each checked with the reference verify."""
    out = []
    for got in rec.delivered(path):
        out.append(Webhook(secret).verify(got.body, got.headers))
    return out


async def test_each_event_once_per_endpoint_in_order_and_signed(
    run: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await run.admin_token()
    async with receiver() as rec:
        a = await add_webhook(
            run, admin, f"{rec.base_url}/ok", ["conversation.created", "message.created"]
        )
        b = await add_webhook(run, admin, f"{rec.base_url}/fail/1", ["message.created"])
        await client_writes(run, admin, ["one", "two", "three"])

        await eventually(
            lambda: len(rec.delivered("/ok")) == 4 and len(rec.delivered("/fail/1")) == 3
        )
        bodies = verified(rec, "/ok", a["secret"])
        assert [x["type"] for x in bodies] == ["conversation.created"] + ["message.created"] * 3
        message_ids = [x["data"]["message_id"] for x in bodies[1:]]
        assert message_ids == sorted(message_ids)
        assert [
            x["data"]["message_id"] for x in verified(rec, "/fail/1", b["secret"])
        ] == message_ids
        # A wrong secret does not verify (the check can fail).
        with pytest.raises(WebhookVerificationError):
            verified(rec, "/ok", b["secret"])
        # The webhook-id is the stored event's: the same on the retry of /fail/1.
        ids = [r.headers["webhook-id"] for r in rec.delivered("/fail/1")]
        assert all(i.startswith("evt_") for i in ids) and len(set(ids)) == 3

        # The sender records the answer after the receiver has it: wait for the record.
        async def recorded() -> list[dict[str, Any]] | None:
            r = await run.client.get(f"/api/v1/webhooks/{b['id']}/deliveries", headers=auth(admin))
            assert r.status_code == 200
            rows: list[dict[str, Any]] = r.json()
            return rows if [d["status"] for d in rows] == ["delivered"] * 3 else None

        await eventually(recorded)
        rows = await recorded()
        assert rows is not None
        assert all(d["attempts"] == 2 and d["last_status_code"] == 204 for d in rows)
        assert all(d["next_attempt_at"] is None for d in rows)
        # The secret is never read back.
        listed = (await run.client.get("/api/v1/webhooks", headers=auth(admin))).json()
        assert "secret" not in json.dumps(listed).replace('"secret_', "")
        assert all("secret" not in w for w in listed)

    # Nothing more arrives later (each once).
    async with run.ctx.sessions() as s:
        counts = (
            await s.execute(
                text(
                    "SELECT count(*), count(DISTINCT (endpoint_id, event_id))"
                    " FROM webhook_deliveries"
                )
            )
        ).one()
    assert counts[0] == counts[1] == 7
    for secret in (a["secret"], b["secret"]):
        assert secret not in caplog.text and secret.removeprefix("whsec_") not in caplog.text
    async with run.ctx.sessions() as s:
        stored = await s.scalar(text("SELECT string_agg(secret::text, ' ') FROM webhook_endpoints"))
    assert a["secret"] not in stored  # encrypted at rest


async def test_retried_after_5xx_and_timeouts_in_conversation_order(run: Running) -> None:
    admin = await run.admin_token()
    async with receiver() as rec:
        await add_webhook(run, admin, f"{rec.base_url}/fail/3", ["message.created"])
        slow = await add_webhook(run, admin, f"{rec.base_url}/slow", ["message.created"])
        await client_writes(run, admin, ["a", "b", "c"])
        await eventually(
            lambda: len(rec.delivered("/fail/3")) == 3 and len(rec.delivered("/slow")) == 3
        )
        for path in ("/fail/3", "/slow"):
            got = [json.loads(r.body)["data"]["message_id"] for r in rec.delivered(path)]
            assert got == sorted(got), path
        # Each message was refused three times before it went through.
        assert all(n == 4 for (p, _), n in rec.attempts.items() if p == "/fail/3")

        async def slow_recorded() -> bool:
            r = await run.client.get(
                f"/api/v1/webhooks/{slow['id']}/deliveries", headers=auth(admin)
            )
            return {d["status"] for d in r.json()} == {"delivered"}

        await eventually(slow_recorded)
        r = await run.client.get(f"/api/v1/webhooks/{slow['id']}/deliveries", headers=auth(admin))
        assert {d["attempts"] for d in r.json()} == {2}


async def test_redeliver_sends_the_same_message_again(run: Running) -> None:
    admin = await run.admin_token()
    async with receiver() as rec:
        hook = await add_webhook(run, admin, f"{rec.base_url}/ok", ["conversation.created"])
        await client_writes(run, admin, ["hello"])
        await eventually(lambda: len(rec.delivered("/ok")) == 1)

        async def recorded() -> bool:
            r = await run.client.get(
                f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth(admin)
            )
            return [d["status"] for d in r.json()] == ["delivered"]

        await eventually(recorded)
        r = await run.client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=auth(admin))
        (delivery,) = r.json()
        r = await run.client.post(
            f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver",
            headers=auth(admin),
        )
        assert r.status_code == 200, r.text
        await eventually(lambda: len(rec.delivered("/ok")) == 2)
        first, again = rec.delivered("/ok")
        assert first.headers["webhook-id"] == again.headers["webhook-id"]
        r = await run.client.post(
            f"/api/v1/webhooks/{hook['id']}/deliveries/999999/redeliver", headers=auth(admin)
        )
        assert r.status_code == 404
