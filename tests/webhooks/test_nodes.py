"""Two processes (each with its senders) deliver webhooks from one database at once, while
clients write through both: every event reaches the endpoint exactly once as a success (the
senders claim with SKIP LOCKED; the fan-out waits for event ids still in flight), in order
per conversation, although each first attempt fails."""

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import truncate_all
from tests.helpers import auth, create_webchat, visitor_post, visitor_session
from tests.multinode.test_nodes import Node, login, seed_admin
from tests.webhooks.receiver import eventually, receiver


async def test_two_processes_deliver_each_event_once_in_order(
    migrated: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in {
        "CHATCENTRE_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
        "CHATCENTRE_WEBHOOK_POLL_SECONDS": "0.05",
        "CHATCENTRE_WEBHOOK_BACKOFF_INITIAL_SECONDS": "0.05",
        "CHATCENTRE_WEBHOOK_BACKOFF_MAX_SECONDS": "0.2",
    }.items():
        monkeypatch.setenv(key, value)
    await seed_admin(migrated)
    nodes = [Node(migrated, tmp_path, "postgres", n) for n in range(2)]
    clients = [httpx.AsyncClient(base_url=n.base, timeout=30) for n in nodes]
    try:
        # A shared 2-core machine under load can take long to start a process.
        await asyncio.gather(*(n.ready(timeout=120) for n in nodes))
        admin = await login(clients[0])
        async with receiver() as rec:
            r = await clients[0].post(
                "/api/v1/webhooks",
                json={"url": f"{rec.base_url}/fail/1", "events": ["message.created"]},
                headers=auth(admin),
            )
            assert r.status_code == 201, r.text
            channel = await create_webchat(clients[0], admin)
            key = channel["public_key"]

            async def visitor(i: int) -> None:
                client = clients[i % 2]
                token = (await visitor_session(client, key))["visitor_token"]
                for n in range(6):
                    r = await visitor_post(clients[n % 2], key, token, f"v{i} m{n}")
                    assert r.status_code in (200, 201), r.text

            await asyncio.gather(*(visitor(i) for i in range(5)))
            await eventually(lambda: len(rec.delivered("/fail/1")) >= 30, timeout=60)
            await asyncio.sleep(1)  # a duplicate would arrive meanwhile
            got = [json.loads(x.body)["data"] for x in rec.delivered("/fail/1")]
            assert len(got) == 30
            assert len({d["message_id"] for d in got}) == 30
            by_conversation: dict[int, list[int]] = {}
            for d in got:
                by_conversation.setdefault(d["conversation_id"], []).append(d["message_id"])
            assert len(by_conversation) == 5
            for ids in by_conversation.values():
                assert ids == sorted(ids)
    finally:
        for c in clients:
            await c.aclose()
        for node in nodes:
            node.stop()
        await truncate_all(migrated)
