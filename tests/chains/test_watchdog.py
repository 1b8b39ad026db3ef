"""The promised-date watchdog with a controllable clock: one delay notice and one manager
alert when the date passes, none again after a restart; and the courier-call check."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from app.chains.tasks import ChainWatchdogs
from app.config import Settings
from tests.chains.support import FAST, drain, post_event, put_order, rows, shop_key
from tests.conftest import Running, create_operator, running_app
from tests.helpers import auth
from tests.telegram.fake_bot_api import FakeBotApi, load_update
from tests.telegram.helpers import create_bot, deliver, secret_of

CHAT = "518003941"


async def _setup(run: Running, fake_api: FakeBotApi) -> tuple[dict[str, str], int, str]:
    admin = await run.admin_token()
    bot = await create_bot(run.client, admin, **FAST)
    await deliver(run.client, bot["id"], load_update("update_text"), secret_of(fake_api))
    manager = await create_operator(run, "manager@example.com", "operator")
    me = await run.client.get("/api/v1/operators/me", headers=auth(manager))
    manager_id = me.json()["id"]
    [(contact_id,)] = await rows(run.ctx, "SELECT id FROM contacts")
    r = await run.client.patch(
        f"/api/v1/contacts/{contact_id}", json={"owner_id": manager_id}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    return await shop_key(run.client, admin), manager_id, admin


async def test_promised_date_passing(
    run: Running, fake_api: FakeBotApi, settings: Settings
) -> None:
    key, manager_id, _ = await _setup(run, fake_api)
    events: list[dict[str, Any]] = []

    async def collect(batch: list[dict[str, Any]]) -> None:
        events.extend(batch)

    run.ctx.bus.subscribe(collect)
    await put_order(
        run.client, key, "late-1", client={"telegram_id": CHAT}, promised_date="2026-11-20"
    )
    await put_order(
        run.client, key, "on-time", client={"telegram_id": CHAT}, promised_date="2026-11-20"
    )
    assert (await post_event(run.client, key, "late-1", "a", "accepted")).status_code == 200
    assert (await post_event(run.client, key, "on-time", "c", "arrived_in_city")).status_code == 200
    await drain(run.ctx)
    assert len(fake_api.calls_of("sendMessage")) == 2

    watchdogs = ChainWatchdogs(run.ctx)
    assert await watchdogs.tick(now=datetime(2026, 11, 20, 23, 59, tzinfo=UTC)) == 0
    assert await watchdogs.tick(now=datetime(2026, 11, 21, 0, 1, tzinfo=UTC)) == 1
    assert await watchdogs.tick(now=datetime(2026, 11, 22, tzinfo=UTC)) == 0
    await drain(run.ctx)

    sends = fake_api.calls_of("sendMessage")
    assert len(sends) == 3
    assert (
        sends[2]
        .params["text"]
        .startswith("We are sorry: your order late-1 will not arrive by 20 Nov 2026 as promised.")
    )
    alerts = await rows(
        run.ctx,
        "SELECT operator_id, step, meta->>'alert', order_id FROM touchpoints WHERE kind = 'alert'",
    )
    late_id = (await rows(run.ctx, "SELECT id FROM orders WHERE external_id = 'late-1'"))[0][0]
    assert [tuple(a) for a in alerts] == [(manager_id, "delayed", "promised_date_missed", late_id)]
    order = (await run.client.get("/api/v1/orders/late-1", headers=key)).json()
    assert order["status"] == "delayed"
    assert order["events"][-1]["outcome"] == "sent"

    # A restart: a new app context runs the watchdog again, much later. Nothing repeats.
    async with running_app(settings, truncate=False) as second:
        assert await ChainWatchdogs(second.ctx).tick(now=datetime(2027, 1, 1, tzinfo=UTC)) == 0
        await drain(second.ctx)
    assert len(fake_api.calls_of("sendMessage")) == 3
    assert len(await rows(run.ctx, "SELECT id FROM touchpoints WHERE kind = 'alert'")) == 1

    # The owner's console got the alert (an event addressed to them).
    for _ in range(100):
        if any(e.get("type") == "order.alert" for e in events):
            break
        await asyncio.sleep(0.02)
    [alert] = [e for e in events if e.get("type") == "order.alert"]
    assert alert["notify_operator_id"] == manager_id
    assert alert["alert"] == "promised_date_missed"


async def test_a_new_date_rearms_and_a_delay_moves_the_watchdog(
    run: Running, fake_api: FakeBotApi
) -> None:
    key, _, _ = await _setup(run, fake_api)
    await put_order(run.client, key, "o", client={"telegram_id": CHAT}, promised_date="2026-11-20")
    r = await post_event(run.client, key, "o", "d", "delayed", days=3, reason="a storm")
    assert r.json()["outcome"] == "sent"
    watchdogs = ChainWatchdogs(run.ctx)
    # The client was warned: the promise now runs to the 23rd.
    assert await watchdogs.tick(now=datetime(2026, 11, 23, 12, tzinfo=UTC)) == 0
    assert await watchdogs.tick(now=datetime(2026, 11, 24, 0, 1, tzinfo=UTC)) == 1
    await drain(run.ctx)
    # The delay was announced already: no second notice, only the manager's alert.
    assert len(fake_api.calls_of("sendMessage")) == 1
    assert len(await rows(run.ctx, "SELECT id FROM touchpoints WHERE kind = 'alert'")) == 1


async def test_out_for_delivery_without_a_courier_call_alerts(
    run: Running, fake_api: FakeBotApi
) -> None:
    key, manager_id, _ = await _setup(run, fake_api)
    await put_order(run.client, key, "x", client={"telegram_id": CHAT})
    await post_event(run.client, key, "x", "1", "arrived_in_city")
    r = await post_event(run.client, key, "x", "2", "out_for_delivery")
    assert r.json()["outcome"] == "sent"
    alerts = await rows(
        run.ctx, "SELECT operator_id, meta->>'alert' FROM touchpoints WHERE kind = 'alert'"
    )
    assert [tuple(a) for a in alerts] == [(manager_id, "no_courier_call")]
    # With the call made first, no alert.
    await put_order(run.client, key, "y", client={"telegram_id": CHAT})
    window = {"start": "2026-11-27T10:00:00Z", "end": "2026-11-27T12:00:00Z"}
    await post_event(run.client, key, "y", "1", "courier_scheduled", window=window)
    await post_event(run.client, key, "y", "2", "out_for_delivery")
    assert len(await rows(run.ctx, "SELECT id FROM touchpoints WHERE kind = 'alert'")) == 1
