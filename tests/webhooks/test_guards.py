"""Webhooks may not reach private addresses (SSRF), and an endpoint that keeps failing is
turned off with an audit entry and a notice."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.config import Settings
from tests.conftest import Running, make_settings, running_app
from tests.helpers import auth
from tests.webhooks.receiver import eventually, receiver
from tests.webhooks.test_delivery import FAST, add_webhook, client_writes


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return FAST


async def deliveries(run: Running, admin: str, hook_id: int) -> list[dict[str, Any]]:
    r = await run.client.get(f"/api/v1/webhooks/{hook_id}/deliveries", headers=auth(admin))
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


async def test_private_addresses_refused_at_creation(run: Running) -> None:
    admin = await run.admin_token()
    for url in (
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/x",
        "http://224.0.0.1/x",
        "ftp://crm.example/x",
    ):
        r = await run.client.post(
            "/api/v1/webhooks",
            json={"url": url, "events": ["message.created"]},
            headers=auth(admin),
        )
        assert r.status_code == 422, (url, r.text)
        assert r.json()["error"]["code"] in ("url_not_allowed", "invalid"), r.text


async def test_a_hostname_resolving_to_loopback_is_refused_when_not_allowed(
    tmp_path: Path, migrated: str
) -> None:
    strict: Settings = make_settings(tmp_path, migrated, **{**FAST, "webhook_allowed_networks": ""})
    async with running_app(strict) as run, receiver() as rec:
        admin = await run.admin_token()
        port = rec.base_url.rsplit(":", 1)[1]
        hook = await add_webhook(run, admin, f"http://localhost:{port}/ok", ["message.created"])
        await client_writes(run, admin, ["hi"])

        async def refused() -> bool:
            rows = await deliveries(run, admin, hook["id"])
            return bool(rows) and (rows[0]["last_error"] or "").startswith("refused")

        await eventually(refused)
        rows = await deliveries(run, admin, hook["id"])
        assert rows[0]["status"] == "pending" and rows[0]["last_status_code"] is None
        assert "not public" in rows[0]["last_error"]
        assert rec.received == [] and not rec.attempts


async def test_a_redirect_to_a_private_address_is_not_followed(run: Running) -> None:
    admin = await run.admin_token()
    async with receiver() as rec:
        hook = await add_webhook(run, admin, f"{rec.base_url}/redirect", ["message.created"])
        await client_writes(run, admin, ["hi"])
        await eventually(lambda: sum(n for (p, _), n in rec.attempts.items()) >= 2)
        rows = await deliveries(run, admin, hook["id"])
        assert rows[0]["status"] == "pending"
        assert rows[0]["last_status_code"] == 302
        assert rows[0]["last_error"] == "redirect not followed"
        assert rec.received == []


async def test_an_endpoint_failing_for_the_limit_is_disabled_and_audited(
    tmp_path: Path, migrated: str
) -> None:
    quick = make_settings(tmp_path, migrated, **{**FAST, "webhook_disable_after_seconds": 0.5})
    async with running_app(quick) as run, receiver() as rec:
        admin = await run.admin_token()
        hook = await add_webhook(run, admin, f"{rec.base_url}/down", ["message.created"])
        await client_writes(run, admin, ["hi"])
        listed: list[dict[str, Any]] = []

        async def disabled() -> bool:
            nonlocal listed
            listed = (await run.client.get("/api/v1/webhooks", headers=auth(admin))).json()
            return not listed[0]["is_active"]

        await eventually(disabled)
        assert listed[0]["disabled_reason"] == "failing"
        tried = sum(rec.attempts.values())
        async with run.ctx.sessions() as s:
            actions = (
                await s.scalars(
                    text("SELECT action FROM audit_log WHERE target_id = :id"), {"id": hook["id"]}
                )
            ).all()
        assert "webhook.disabled" in actions
        # Nothing is sent to a disabled endpoint; turning it on again clears the notice.
        await asyncio.sleep(0.5)
        assert sum(rec.attempts.values()) == tried
        r = await run.client.patch(
            f"/api/v1/webhooks/{hook['id']}", json={"is_active": True}, headers=auth(admin)
        )
        assert r.json()["disabled_reason"] is None and r.json()["failing_since"] is None
