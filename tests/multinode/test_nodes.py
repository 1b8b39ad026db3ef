"""Several real node processes (`python -m app serve`) on loopback ports, sharing the test
PostgreSQL, on each bus backend: what happens on one node is seen on the others."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import ROOT, free_port, truncate_all
from tests.helpers import auth, routings_settled, visitor_post, visitor_session
from tests.realtime.test_bus import REDIS_URL, redis_running
from tests.webchat.test_end_to_end import next_event

SECRET = "multinode-shared-secret-key-0123456789abcdef"


class Node:
    def __init__(
        self,
        url: str,
        tmp: Path,
        backend: str,
        n: int,
        workers: bool = True,
        extra_env: dict[str, str] | None = None,
    ):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "CHATCENTRE_DATABASE_URL": url,
            "CHATCENTRE_SECRET_KEY": SECRET,
            "CHATCENTRE_DATA_DIR": str(tmp / f"node{n}"),
            "CHATCENTRE_BUS_BACKEND": backend,
            "CHATCENTRE_RUN_WORKERS": "true" if workers else "false",
            "CHATCENTRE_RATE_LIMIT_PUBLIC": "100000/minute",
            "CHATCENTRE_RATE_LIMIT_WIDGET_MESSAGES": "100000/minute",
            "CHATCENTRE_RATE_LIMIT_LOGIN": "100000/minute",
            "CHATCENTRE_RATE_LIMIT_API": "100000/minute",
            "CHATCENTRE_RATE_LIMIT_WIDGET_SESSIONS": "100000/minute",
            "CHATCENTRE_RATE_LIMIT_WIDGET_MESSAGES_IP": "100000/minute",
            "CHATCENTRE_LOG_LEVEL": "warning",
            "CHATCENTRE_SHED_MAX_IN_FLIGHT": "0",  # bursts here must not be shed on a busy CI
            "CHATCENTRE_SHED_MAX_POOL_WAIT_MS": "0",
        }
        if backend == "redis":
            env["CHATCENTRE_REDIS_URL"] = REDIS_URL
        env |= extra_env or {}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    async def ready(self, timeout: float = 90) -> None:
        async with httpx.AsyncClient(base_url=self.base) as client:
            for _ in range(int(timeout / 0.1)):
                if self.proc.poll() is not None:
                    raise RuntimeError(self.proc.stderr.read().decode() if self.proc.stderr else "")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"node on {self.port} did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(params=["postgres", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "redis" and not redis_running():
        pytest.skip("no Redis server on 127.0.0.1:6379")
    return str(request.param)


@pytest.fixture
async def start_nodes(
    migrated: str, tmp_path: Path, backend: str
) -> AsyncIterator[Callable[..., Any]]:
    started: list[Node] = []

    async def start(count: int, workers: bool = True) -> list[Node]:
        nodes = [Node(migrated, tmp_path, backend, len(started) + i, workers) for i in range(count)]
        started.extend(nodes)
        await asyncio.gather(*(n.ready() for n in nodes))
        return nodes

    try:
        yield start
    finally:
        for node in started:
            node.stop()
        await truncate_all(migrated)


async def seed_admin(url: str) -> None:
    from app.operators.security import hash_password

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO operators (email, name, password_hash, role, presence) "
                "VALUES ('admin@example.com', 'Admin', :h, 'admin', 'offline')"
            ),
            {"h": hash_password("ochre-82-jy")},
        )
    await engine.dispose()


async def login(client: httpx.AsyncClient) -> str:
    r = await client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "ochre-82-jy"}
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


async def test_message_on_node_a_reaches_operator_on_node_b(
    start_nodes: Callable[..., Any], migrated: str
) -> None:
    a, b = await start_nodes(2)
    await seed_admin(migrated)
    async with (
        httpx.AsyncClient(base_url=a.base) as on_a,
        httpx.AsyncClient(base_url=b.base) as on_b,
    ):
        admin = await login(on_b)
        r = await on_a.post(
            "/api/v1/channels", json={"type": "webchat", "name": "Site"}, headers=auth(admin)
        )
        key = r.json()["public_key"]
        token = (await visitor_session(on_a, key))["visitor_token"]
        async with (
            websockets.connect(f"ws://127.0.0.1:{b.port}/api/v1/ws?token={admin}") as op_ws,
            websockets.connect(f"ws://127.0.0.1:{a.port}/widget/v1/{key}/ws?token={token}") as v,
        ):
            await next_event(op_ws, "ready")
            await next_event(v, "ready")
            r = await visitor_post(on_a, key, token, "from node A")
            conv = r.json()["message"]["conversation_id"]
            event = await next_event(op_ws, "message.created", timeout=10)
            assert event["data"]["text"] == "from node A"
            # The operator on B answers; the visitor on A gets it, sent once.
            await on_b.post(
                f"/api/v1/conversations/{conv}/messages",
                json={"text": "answer from node B"},
                headers=auth(admin),
            )
            seen = []
            while "answer from node B" not in seen:
                seen.append((await next_event(v, "message.created", timeout=10))["data"]["text"])


async def test_routing_limits_and_single_sends_across_three_nodes(
    start_nodes: Callable[..., Any], migrated: str
) -> None:
    nodes = await start_nodes(3)
    await seed_admin(migrated)
    clients = [httpx.AsyncClient(base_url=n.base) for n in nodes]
    try:
        admin = await login(clients[0])
        ops = []
        for i in range(3):
            r = await clients[0].post(
                "/api/v1/operators",
                json={
                    "email": f"op{i}@example.com",
                    "name": f"op{i}",
                    "password": "ochre-82-jy",
                    "max_open_conversations": 4,
                },
                headers=auth(admin),
            )
            ops.append(r.json()["id"])
            await clients[1].post(
                f"/api/v1/operators/{ops[-1]}/presence",
                json={"presence": "online"},
                headers=auth(admin),
            )
        key = (
            await clients[2].post(
                "/api/v1/channels", json={"type": "webchat", "name": "S"}, headers=auth(admin)
            )
        ).json()["public_key"]
        tokens = [(await visitor_session(clients[0], key))["visitor_token"] for _ in range(30)]
        results = await asyncio.gather(
            *(visitor_post(clients[i % 3], key, t, "lead") for i, t in enumerate(tokens))
        )
        assert all(r.status_code == 201 for r in results)
        engine = create_async_engine(migrated)
        await routings_settled(engine, len(tokens))
        async with engine.connect() as conn:
            per_op = dict(
                (
                    await conn.execute(
                        text(
                            "SELECT assignee_id, count(*) FROM conversations "
                            "WHERE assignee_id IS NOT NULL GROUP BY 1"
                        )
                    )
                ).all()
            )
        assert per_op == {op: 4 for op in ops}

        # Replies queued through every node are each sent once by the nodes' dispatchers.
        convs = [r.json()["message"]["conversation_id"] for r in results]
        for i, conv in enumerate(convs):
            await clients[i % 3].post(
                f"/api/v1/conversations/{conv}/messages",
                json={"text": f"reply {i}"},
                headers=auth(admin),
            )
        for _ in range(100):
            async with engine.connect() as conn:
                left = await conn.scalar(text("SELECT count(*) FROM outbox"))
            if left == 0:
                break
            await asyncio.sleep(0.1)
        async with engine.connect() as conn:
            states = dict(
                (
                    await conn.execute(
                        text(
                            "SELECT delivery_state, count(*) FROM messages "
                            "WHERE direction = 'outbound' GROUP BY 1"
                        )
                    )
                ).all()
            )
        await engine.dispose()
        assert states == {"sent": 30}
    finally:
        for c in clients:
            await c.aclose()


async def test_a_channel_changed_on_one_node_is_read_again_on_the_other(
    start_nodes: Callable[..., Any], migrated: str
) -> None:
    """Each node keeps the channels its webhooks and widgets read for a few seconds (5 s);
    a change made on another node reaches it through the bus well before that: a WhatsApp
    number's new verify token is accepted, a deactivated widget is refused."""
    a, b = await start_nodes(2, workers=False)
    await seed_admin(migrated)
    async with (
        httpx.AsyncClient(base_url=a.base) as on_a,
        httpx.AsyncClient(base_url=b.base) as on_b,
    ):
        admin = await login(on_a)
        credentials = {
            "phone_number_id": "1065",
            "access_token": "meta-token",
            "app_secret": "meta-app-secret",
            "verify_token": "first-verify-token",
        }
        r = await on_a.post(
            "/api/v1/channels",
            json={"type": "whatsapp", "name": "Shop", "credentials": credentials},
            headers=auth(admin),
        )
        assert r.status_code == 201, r.text
        number = r.json()["id"]
        r = await on_a.post(
            "/api/v1/channels", json={"type": "webchat", "name": "Site"}, headers=auth(admin)
        )
        assert r.status_code == 201, r.text
        site, key = r.json()["id"], r.json()["public_key"]

        async def handshake(token: str) -> int:
            params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "42"}
            return (await on_b.get(f"/webhooks/whatsapp/{number}", params=params)).status_code

        async def widget() -> int:
            return (await on_b.get(f"/widget/v1/{key}/config")).status_code

        # Node B reads both channels, and keeps them.
        assert await handshake("first-verify-token") == 200
        assert await widget() == 200

        r = await on_a.patch(
            f"/api/v1/channels/{number}",
            json={"credentials": {"verify_token": "second-verify-token"}},
            headers=auth(admin),
        )
        assert r.status_code == 200, r.text
        r = await on_a.patch(
            f"/api/v1/channels/{site}", json={"is_active": False}, headers=auth(admin)
        )
        assert r.status_code == 200, r.text
        changed_at = asyncio.get_running_loop().time()
        while (await handshake("second-verify-token"), await widget()) != (200, 404):
            waited = asyncio.get_running_loop().time() - changed_at
            assert waited < 2.0, "node B still serves the channels as they were"
            await asyncio.sleep(0.05)
        assert await handshake("first-verify-token") == 403
