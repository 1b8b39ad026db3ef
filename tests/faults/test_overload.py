"""Overload shedding (issue 22): above capacity a request gets 503 with Retry-After at once,
before any transaction starts; clients that resend as told get every message stored once."""

import asyncio
import collections
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import Running, make_settings, running_app, truncate_all
from tests.helpers import auth, visitor_session
from tests.multinode.test_nodes import Node, login, seed_admin

VISITORS = 40
PER_VISITOR = 10


async def _post(
    session: aiohttp.ClientSession, url: str, token: str, client_id: str
) -> tuple[int, float, str | None]:
    """(status, seconds, Retry-After); status 0: no answer (a refused or cut connection)."""
    started = time.perf_counter()
    try:
        async with session.post(
            url,
            data=json.dumps({"text": client_id, "client_message_id": client_id}),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        ) as resp:
            await resp.read()
            return resp.status, time.perf_counter() - started, resp.headers.get("Retry-After")
    except (aiohttp.ClientError, TimeoutError) as exc:
        print("no answer:", type(exc).__name__, exc)
        return 0, time.perf_counter() - started, None


async def test_a_burst_gets_fast_503s_and_resent_messages_are_stored_once(
    migrated: str, tmp_path: Path
) -> None:
    node = Node(
        migrated,
        tmp_path,
        "postgres",
        0,
        workers=False,
        extra_env={
            "CHATCENTRE_SHED_MAX_IN_FLIGHT": "12",
            "CHATCENTRE_SHED_MAX_POOL_WAIT_MS": "100",
            "CHATCENTRE_DB_POOL_SIZE": "2",
        },
    )
    engine = create_async_engine(migrated)
    try:
        await node.ready()
        await seed_admin(migrated)
        async with httpx.AsyncClient(base_url=node.base, timeout=30) as client:
            admin = await login(client)
            r = await client.post(
                "/api/v1/channels", json={"type": "webchat", "name": "S"}, headers=auth(admin)
            )
            key = r.json()["public_key"]
            tokens = [
                (await visitor_session(client, key))["visitor_token"] for _ in range(VISITORS)
            ]
        url = f"{node.base}/widget/v1/{key}/messages"
        pending = {f"m{v}-{i}": tokens[v] for v in range(VISITORS) for i in range(PER_VISITOR)}

        async with aiohttp.ClientSession(
            # A connection per request: no reuse of one the server closed when idle.
            connector=aiohttp.TCPConnector(limit=1000, force_close=True),
            timeout=aiohttp.ClientTimeout(total=10),
        ) as session:
            # The burst: every message at once.
            first = await asyncio.gather(
                *(_post(session, url, token, cid) for cid, token in pending.items())
            )
            statuses = [status for status, _, _ in first]
            assert set(statuses) <= {201, 503}, collections.Counter(statuses)
            shed = [(took, retry) for status, took, retry in first if status == 503]
            assert shed, "nothing was shed: the burst was within capacity"
            assert all(retry == "1" for _, retry in shed)
            assert max(took for took, _ in shed) < 1.0
            # Every answer came long before a client would give up.
            assert max(took for _, took, _ in first) < 5.0
            # Resend what was shed, after Retry-After, as providers and the widget do.
            for _round in range(60):
                pending = {
                    cid: token
                    for (cid, token), (status, _, _) in zip(pending.items(), first, strict=True)
                    if status == 503
                }
                if not pending:
                    break
                await asyncio.sleep(1)
                first = await asyncio.gather(
                    *(_post(session, url, token, cid) for cid, token in pending.items())
                )
                assert {status for status, _, _ in first} <= {200, 201, 503}
            assert not pending, "still shed after a minute of resending"

        async with engine.connect() as conn:
            stored = (
                await conn.execute(text("SELECT count(*), count(DISTINCT text) FROM messages"))
            ).one()
        assert tuple(stored) == (VISITORS * PER_VISITOR, VISITORS * PER_VISITOR)
    finally:
        node.stop()
        await engine.dispose()
        await truncate_all(migrated)


@pytest.fixture
def pool_settings(tmp_path: Path, migrated: str) -> Any:
    return make_settings(
        tmp_path,
        migrated,
        run_workers=False,
        db_pool_size=1,  # at most two connections: two held ones exhaust it
        shed_max_in_flight=0,
        shed_max_pool_wait_ms=50,
    )


async def test_waiting_for_the_pool_sheds_new_requests_until_it_drains(pool_settings: Any) -> None:
    async with running_app(pool_settings) as run:
        await _pool_wait_is_shed(run)


async def _pool_wait_is_shed(run: Running) -> None:
    admin = await run.admin_token()
    me = "/api/v1/operators/me"
    held = [await run.ctx.engine.connect() for _ in range(2)]
    for conn in held:
        await conn.execute(text("SELECT 1"))
    waiting = asyncio.create_task(run.client.get(me, headers=auth(admin)))
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    r = await run.client.get(me, headers=auth(admin))
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "overloaded" and r.headers["Retry-After"] == "1"
    assert time.perf_counter() - started < 1.0
    # A provider's webhook is refused the same way, at once, so the provider redelivers.
    hook = await run.client.post("/webhooks/telegram/1", json={"update_id": 1})
    assert hook.status_code == 503 and hook.headers["Retry-After"] == "1"
    assert (await run.client.get("/healthz")).status_code == 200  # never shed
    for conn in held:
        await conn.close()
    # The request that waited was admitted before the pool filled: it completes.
    assert (await waiting).status_code == 200
    await asyncio.sleep(1.1)  # the finished long wait ages out of the window
    assert (await run.client.get(me, headers=auth(admin))).status_code == 200
