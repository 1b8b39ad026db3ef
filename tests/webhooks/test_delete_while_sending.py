"""Deleting an endpoint while its sender records an attempt: both take their locks in the
same order (a delivery, then its endpoint), so neither is killed as a deadlock."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import auth
from tests.webhooks.receiver import eventually, receiver
from tests.webhooks.test_delivery import FAST, add_webhook, client_writes


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return FAST


async def test_delete_waits_for_a_send_in_flight_instead_of_deadlocking(run: Running) -> None:
    admin = await run.admin_token()
    async with receiver() as rec:
        hook = await add_webhook(run, admin, f"{rec.base_url}/fail/1000", ["message.created"])
        await client_writes(run, admin, ["one"])
        await eventually(lambda: len(rec.attempts) > 0)

        async with run.ctx.engine.connect() as sender:
            # What the sender does when it records an attempt: the delivery, then its endpoint.
            await sender.execute(text("SET lock_timeout = '10s'"))
            delivery = await sender.scalar(
                text("SELECT id FROM webhook_deliveries WHERE endpoint_id = :e FOR UPDATE"),
                {"e": hook["id"]},
            )
            assert delivery is not None
            deleting = asyncio.create_task(
                run.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=auth(admin))
            )

            async def delete_waits() -> bool:
                async with run.ctx.engine.connect() as probe:
                    waiting = await probe.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            " AND datname = current_database() AND pid <> :me"
                        ),
                        {"me": await sender.scalar(text("SELECT pg_backend_pid()"))},
                    )
                return bool(waiting)

            await eventually(delete_waits, timeout=20)
            # Before the fix the delete held the endpoint here, and this lock deadlocked.
            await sender.execute(
                text("SELECT id FROM webhook_endpoints WHERE id = :e FOR UPDATE"),
                {"e": hook["id"]},
            )
            await sender.commit()
        r = await deleting
        assert r.status_code == 204, r.text
    async with run.ctx.sessions() as s:
        left = await s.scalar(
            text("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :e"),
            {"e": hook["id"]},
        )
    assert left == 0
