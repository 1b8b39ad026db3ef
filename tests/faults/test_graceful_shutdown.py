"""SIGTERM to a `serve` process: WebSockets are closed with the "restarting, reconnect"
code, no outbox row stays claimed, and the process exits cleanly."""

import asyncio
import signal
from pathlib import Path

import httpx
import websockets
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import truncate_all
from tests.helpers import auth, visitor_post, visitor_session
from tests.multinode.test_nodes import Node, login, seed_admin
from tests.webchat.test_end_to_end import next_event


async def test_sigterm_closes_sockets_with_reconnect_hint(migrated: str, tmp_path: Path) -> None:
    node = Node(migrated, tmp_path, "postgres", 0)
    try:
        await node.ready()
        await seed_admin(migrated)
        async with httpx.AsyncClient(base_url=node.base, timeout=30) as client:
            admin = await login(client)
            key = (
                await client.post(
                    "/api/v1/channels", json={"type": "webchat", "name": "S"}, headers=auth(admin)
                )
            ).json()["public_key"]
            token = (await visitor_session(client, key))["visitor_token"]
            conv = (await visitor_post(client, key, token, "hi")).json()["message"][
                "conversation_id"
            ]
            for i in range(20):
                await client.post(
                    f"/api/v1/conversations/{conv}/messages",
                    json={"text": f"reply {i}"},
                    headers=auth(admin),
                )
            async with websockets.connect(
                f"ws://127.0.0.1:{node.port}/api/v1/ws?token={admin}"
            ) as ws:
                await next_event(ws, "ready")
                node.proc.send_signal(signal.SIGTERM)
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 15)
                except websockets.ConnectionClosed as closed:
                    assert closed.rcvd is not None and closed.rcvd.code == 1012
        # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status says so.
        assert await asyncio.to_thread(node.proc.wait, 20) in (0, -signal.SIGTERM)
        engine = create_async_engine(migrated)
        async with engine.connect() as conn:
            claimed = await conn.scalar(
                text("SELECT count(*) FROM outbox WHERE claimed_until > now()")
            )
        await engine.dispose()
        assert claimed == 0
    finally:
        node.stop()
        await truncate_all(migrated)
