"""PostgreSQL goes away mid-load and comes back: the service survives without a restart.

The app runs under uvicorn on a loopback port against a PostgreSQL server of this test's
own. Widget posts and Telegram webhooks go in continuously; the server is stopped (every
connection cut) and started again. Every answer is 2xx or 503 (never a 500, never a 2xx for
something not stored); afterwards every message that got a 2xx is in the database, /readyz
is 200 again, the bus and the dispatchers work again, and a console that reconnects with
after= catches up on everything."""

import asyncio
import copy
import itertools
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import websockets
from sqlalchemy import text

from app.db import migrate
from tests.conftest import FIXTURES, Running, create_operator, make_settings
from tests.faults.support import PrivatePostgres, Served, serve, wait_for
from tests.helpers import auth, create_webchat, recv_event, visitor_session
from tests.telegram.conftest import telegram_settings
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.helpers import SECRET_HEADER, create_bot, secret_of

UPDATE = json.loads((FIXTURES / "telegram" / "update_text.json").read_text())
OUTAGE_SECONDS = 2.5


class Load:
    """Writers that post until told to stop, keeping every answer."""

    def __init__(self, app: Served, key: str, visitor: str, bot_id: int, bot_secret: str):
        self.app, self.key, self.visitor = app, key, visitor
        self.bot_id, self.bot_secret = bot_id, bot_secret
        self.statuses: Counter[int] = Counter()
        self.accepted_widget: set[str] = set()
        self.accepted_telegram: set[int] = set()
        self.stop = asyncio.Event()
        self._ids = itertools.count(1)

    async def widget_writer(self) -> None:
        while not self.stop.is_set():
            cid = f"m{next(self._ids)}"
            r = await self.app.client.post(
                f"/widget/v1/{self.key}/messages",
                json={"text": cid, "client_message_id": cid},
                headers=auth(self.visitor),
            )
            self.statuses[r.status_code] += 1
            if r.status_code == 201:
                self.accepted_widget.add(cid)
            else:
                assert r.status_code == 503, r.text
                assert r.json()["error"]["code"] in ("database_unavailable", "unavailable")
                assert r.headers.get("Retry-After")
                await asyncio.sleep(0.05)

    async def telegram_writer(self) -> None:
        while not self.stop.is_set():
            n = next(self._ids)
            update = copy.deepcopy(UPDATE)
            update["update_id"] = 1_000_000 + n
            update["message"]["message_id"] = 5_000_000 + n
            update["message"]["text"] = f"tg{n}"
            r = await self.app.client.post(
                f"/webhooks/telegram/{self.bot_id}",
                content=orjson.dumps(update),
                headers={SECRET_HEADER: self.bot_secret, "Content-Type": "application/json"},
            )
            self.statuses[r.status_code] += 1
            if r.status_code == 200:
                self.accepted_telegram.add(n)
            else:
                assert r.status_code == 503, r.text
                await asyncio.sleep(0.05)


async def test_database_outage_mid_load(tmp_path: Path) -> None:
    started = time.monotonic()
    pg = PrivatePostgres(tmp_path / "private")
    fake = FakeBotApi()
    await fake.start()
    try:
        await migrate.upgrade(pg.url)
        settings = make_settings(tmp_path, pg.url, db_pool_size=4, **telegram_settings(fake))
        async with serve(settings) as app:
            await _scenario(app, pg, fake)
    finally:
        await fake.stop()
        pg.close()
    assert time.monotonic() - started < 90


async def _scenario(app: Served, pg: PrivatePostgres, fake: FakeBotApi) -> None:
    run = Running(app=None, ctx=app.ctx, client=app.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    key = (await create_webchat(app.client, admin))["public_key"]
    visitor = (await visitor_session(app.client, key))["visitor_token"]
    bot = await create_bot(app.client, admin)
    load = Load(app, key, visitor, bot["id"], secret_of(fake))

    # A console is open before the outage.
    console = await websockets.connect(f"{app.ws_url}/api/v1/ws?token={admin}&after=0")

    writers = [asyncio.create_task(load.widget_writer()) for _ in range(3)]
    writers.append(asyncio.create_task(load.telegram_writer()))
    await asyncio.sleep(1.0)
    before_outage = len(load.accepted_widget) + len(load.accepted_telegram)
    assert before_outage > 0, load.statuses

    await asyncio.to_thread(pg.stop)
    await asyncio.sleep(OUTAGE_SECONDS)
    r = await app.client.get("/readyz")
    assert r.status_code == 503, r.text
    during = load.statuses[503]
    assert during > 0, load.statuses
    await asyncio.to_thread(pg.start)

    # It recovers by itself: readiness, then writes accepted again.
    async def ready() -> Any:
        r = await app.client.get("/readyz")
        return (r.status_code == 200 and r.json()["bus"] == "connected") or r.text

    await wait_for(ready, 20)
    accepted_at_restart = len(load.accepted_widget) + len(load.accepted_telegram)

    async def accepting() -> bool:
        return len(load.accepted_widget) + len(load.accepted_telegram) > accepted_at_restart + 20

    await wait_for(accepting, 20)
    load.stop.set()
    await asyncio.gather(*writers)
    assert set(load.statuses) <= {200, 201, 503}, load.statuses

    # Nothing that was accepted is lost (and nothing is stored twice).
    async with app.ctx.engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT text FROM messages WHERE direction = 'inbound'"))
        ).all()
    stored = Counter(r[0] for r in rows)
    assert all(n == 1 for n in stored.values())
    assert load.accepted_widget <= set(stored), load.accepted_widget - set(stored)
    assert {f"tg{n}" for n in load.accepted_telegram} <= set(stored)

    # The dispatchers resumed: an operator reply is sent.
    async with app.ctx.engine.connect() as conn:
        conv_id = (
            await conn.execute(
                text(
                    "SELECT c.id FROM conversations c JOIN channel_accounts ch "
                    "ON ch.id = c.channel_account_id WHERE ch.type = 'webchat' LIMIT 1"
                )
            )
        ).scalar_one()
    r = await app.client.post(
        f"/api/v1/conversations/{conv_id}/messages", json={"text": "back"}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    reply_id = r.json()["id"]

    async def reply_sent() -> bool:
        async with app.ctx.engine.connect() as conn:
            state = (
                await conn.execute(
                    text("SELECT delivery_state FROM messages WHERE id = :id"), {"id": reply_id}
                )
            ).scalar_one()
        return bool(state == "sent")

    await wait_for(reply_sent, 15)

    # The console that was open during the outage: whatever it got before it was closed.
    seen = await _drain(console)
    last_seen = max(seen, default=0)

    # Reconnecting with after= (page by page) catches up on everything it missed...
    all_ids = await _message_ids(app)
    replayed: list[int] = []
    cursor, more = last_seen, True
    while more:
        async with websockets.connect(
            f"{app.ws_url}/api/v1/ws?token={admin}&after={cursor}", max_size=2**24
        ) as ws:
            while True:
                event = await _next(ws)
                if event["type"] == "ready":
                    more = event["more"]
                    break
                if event["type"] == "message.created" and event.get("replay"):
                    replayed.append(event["data"]["id"])
        cursor = max(replayed, default=cursor)
    assert sorted(set(replayed)) == [i for i in all_ids if i > last_seen]

    # ... and then hears new messages live: the bus reconnected.
    async with websockets.connect(f"{app.ws_url}/api/v1/ws?token={admin}") as ws:
        while (await _next(ws))["type"] != "ready":
            pass
        r = await app.client.post(
            f"/widget/v1/{key}/messages", json={"text": "live after outage"}, headers=auth(visitor)
        )
        assert r.status_code == 201, r.text
        live_id = r.json()["message"]["id"]
        while True:
            event = await _next(ws)
            if event["type"] == "message.created" and event["data"]["id"] == live_id:
                break
    print(
        f"\nDB outage: statuses {dict(load.statuses)}, accepted "
        f"{len(load.accepted_widget)} widget + {len(load.accepted_telegram)} telegram, lost 0"
    )


async def _message_ids(app: Served) -> list[int]:
    async with app.ctx.engine.connect() as conn:
        rows = await conn.execute(text("SELECT id FROM messages ORDER BY id"))
        return [r[0] for r in rows]


async def _next(ws: Any, timeout: float = 10) -> dict[str, Any]:
    return await recv_event(ws, timeout)


async def _drain(ws: Any) -> list[int]:
    ids: list[int] = []
    try:
        while True:
            event = await recv_event(ws, 0.5)
            if event["type"] == "message.created":
                ids.append(event["data"]["id"])
    except (TimeoutError, websockets.ConnectionClosed):
        pass
    await ws.close()
    return ids
