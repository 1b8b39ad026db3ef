"""Both bus backends behave the same: an event published on one node reaches every node, a
publish never blocks the caller, and a lost connection is re-established."""

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from app.cli import WS_PROTOCOL
from app.config import Settings
from app.core.bus import EventBus, PostgresBus, RedisBus
from app.core.session import Event
from tests.conftest import make_settings

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_running() -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", 6379)) == 0


@pytest.fixture(params=["postgres", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "redis" and not redis_running():
        pytest.skip("no Redis server on 127.0.0.1:6379")
    yield request.param


def make_bus(backend: str, database_url: str) -> EventBus:
    if backend == "redis":
        return RedisBus(REDIS_URL, coalesce_ms=1)
    return PostgresBus(database_url.replace("+asyncpg", ""), coalesce_ms=1)


async def test_an_event_reaches_every_node(backend: str, migrated: str) -> None:
    nodes = [make_bus(backend, migrated) for _ in range(3)]
    heard: list[list[Event]] = [[] for _ in nodes]
    for bus, box in zip(nodes, heard, strict=True):

        async def listen(events: list[Event], box: list[Event] = box) -> None:
            box.extend(events)

        bus.subscribe(listen)
        await bus.start()
        assert bus.connected.is_set()
    try:
        events = [{"type": "message.created", "message_id": i} for i in range(500)]
        for e in events:
            nodes[0].publish([e])  # returns at once
        for _ in range(200):
            if all(len(box) >= 500 for box in heard):
                break
            await asyncio.sleep(0.01)
        for box in heard:
            mine = [e for e in box if e.get("type") == "message.created"]
            assert sorted(e["message_id"] for e in mine) == list(range(500))
    finally:
        for bus in nodes:
            await bus.stop()


async def test_end_to_end_on_each_backend(backend: str, migrated: str, tmp_path: Any) -> None:
    """The widget -> operator -> widget path over real HTTP and WebSockets, on this bus."""
    import uvicorn
    import websockets

    from app.core.context import build_context
    from app.main import create_app
    from tests.conftest import Running, create_operator, free_port, truncate_all
    from tests.helpers import auth, create_webchat, visitor_post, visitor_session
    from tests.webchat.test_end_to_end import next_event

    settings: Settings = make_settings(
        tmp_path, migrated, bus_backend=backend, redis_url=REDIS_URL if backend == "redis" else None
    )
    ctx = build_context(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(ctx=ctx), host="127.0.0.1", port=port, log_level="warning", ws=WS_PROTOCOL
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    import httpx

    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            run = Running(app=None, ctx=ctx, client=client)  # type: ignore[arg-type]
            admin = await create_operator(run, "admin@example.com", "admin")
            key = (await create_webchat(client, admin))["public_key"]
            token = (await visitor_session(client, key))["visitor_token"]
            ws_base = f"ws://127.0.0.1:{port}"
            async with (
                websockets.connect(f"{ws_base}/api/v1/ws?token={admin}") as op_ws,
                websockets.connect(f"{ws_base}/widget/v1/{key}/ws?token={token}") as v_ws,
            ):
                await next_event(op_ws, "ready")
                await next_event(v_ws, "ready")
                r = await visitor_post(client, key, token, "hello")
                conv = r.json()["message"]["conversation_id"]
                assert (await next_event(op_ws, "message.created"))["data"]["text"] == "hello"
                await client.post(
                    f"/api/v1/conversations/{conv}/messages",
                    json={"text": "hi there"},
                    headers=auth(admin),
                )
                seen = []
                while "hi there" not in seen:
                    seen.append((await next_event(v_ws, "message.created"))["data"]["text"])
    finally:
        server.should_exit = True
        await task
        await truncate_all(ctx.database_url)


class _CutOnce(PostgresBus):
    """A PostgreSQL bus whose first send fails as a connection cut mid-statement did in the
    database-outage test (asyncpg's InternalClientError, outside its usual error classes)."""

    failed = False

    async def _send(self, payload: str) -> None:
        if not self.failed:
            self.failed = True
            raise asyncpg.exceptions.InternalClientError("cannot switch to state 12")
        await super()._send(payload)


async def test_publishing_outlives_an_unexpected_send_error(migrated: str) -> None:
    dsn = migrated.replace("+asyncpg", "")
    sender, listener = _CutOnce(dsn, coalesce_ms=1), PostgresBus(dsn, coalesce_ms=1)
    heard: list[Event] = []

    async def listen(events: list[Event]) -> None:
        heard.extend(events)

    listener.subscribe(listen)
    await listener.start()
    await sender.start()
    try:
        sender.publish([{"type": "message.created", "message_id": 1}])  # retried, then sent
        await asyncio.sleep(0.5)
        sender.publish([{"type": "message.created", "message_id": 2}])
        for _ in range(300):
            if {e.get("message_id") for e in heard} >= {1, 2}:
                break
            await asyncio.sleep(0.01)
        assert sender.failed
        assert {e.get("message_id") for e in heard} >= {1, 2}, heard
    finally:
        await sender.stop()
        await listener.stop()
