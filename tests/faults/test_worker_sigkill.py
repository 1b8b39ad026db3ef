"""A dispatcher process killed with SIGKILL mid-run, with thousands of messages queued.

`chatcentre worker` runs as a real subprocess against the test database and sends through
the real WhatsApp connector to a fake Graph API (in this process) that records every send.
It is killed with SIGKILL while it sends; a second worker is started; every message ends
`sent`, and the duplicates at the fake are counted: only messages the provider accepted in
the killed batch, before the dead process could commit, may go twice (see README)."""

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.faults.support import CHATCENTRE, subprocess_env, wait_for
from tests.whatsapp.fake_graph import FakeGraph, serve_fake_graph
from tests.whatsapp.support import create_whatsapp, envelope, post_webhook, text_message

CHATS = 200
PER_CHAT = 10  # 2000 messages
BATCH = 50
CONCURRENCY = 2


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with serve_fake_graph() as fake:
        yield fake


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}  # only the subprocesses send


async def _queue_messages(run: Running, channel_id: int) -> int:
    async with run.ctx.engine.begin() as conn:
        await conn.execute(
            text("""
            WITH m AS (
              INSERT INTO messages (conversation_id, channel_account_id, contact_id, direction,
                                    sender_type, text, delivery_state)
              SELECT c.id, c.channel_account_id, c.contact_id, 'outbound', 'operator',
                     'out-' || c.id || '-' || lpad(g::text, 4, '0'), 'queued'
              FROM conversations c, generate_series(1, :n) g
              WHERE c.channel_account_id = :ch
              ORDER BY c.id, g
              RETURNING id, conversation_id, channel_account_id)
            INSERT INTO outbox (message_id, conversation_id, channel_account_id)
            SELECT id, conversation_id, channel_account_id FROM m
            """),
            {"n": PER_CHAT, "ch": channel_id},
        )
        return int((await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one())


def _start_worker(run: Running) -> subprocess.Popen[bytes]:
    env = subprocess_env(
        run.ctx.settings,
        CHATCENTRE_DISPATCHER_BATCH_SIZE=str(BATCH),
        CHATCENTRE_DISPATCHER_CONCURRENCY=str(CONCURRENCY),
        CHATCENTRE_DISPATCHER_IDLE_POLL_SECONDS="0.2",
        # A dead worker's claimed rows come back after this lease.
        CHATCENTRE_DISPATCHER_LEASE_SECONDS="3",
        CHATCENTRE_TELEGRAM_POLL_SCAN_SECONDS="60",
        CHATCENTRE_WHATSAPP_RATE_PER_ACCOUNT="100000/second",
    )
    return subprocess.Popen([*CHATCENTRE, "worker"], env=env, start_new_session=True)


async def test_sigkill_mid_run_loses_nothing_and_duplicates_little(
    run: Running, graph: FakeGraph
) -> None:
    started = time.monotonic()
    admin = await run.admin_token()
    channel = await create_whatsapp(run.client, admin, graph)
    batch = [
        text_message(f"wamid.in.{chat}", "hello", frm=str(4915100000000 + chat))
        for chat in range(CHATS)
    ]
    for m in batch:
        r = await post_webhook(run.client, channel["id"], envelope(messages=[m], wa_id=m["from"]))
        assert r.status_code == 200, r.text
    total = await _queue_messages(run, channel["id"])
    assert total == CHATS * PER_CHAT

    def sends() -> list[str]:
        return [r.body["text"]["body"] for r in graph.sends]

    first = _start_worker(run)
    try:
        # Kill it while it is sending: a third of the way through.
        async def a_third() -> bool:
            return len(sends()) >= total // 3

        await wait_for(a_third, 60, interval=0.01)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        at_kill = len(sends())
        assert at_kill < total
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)

    second = _start_worker(run)
    try:

        async def drained() -> Any:
            async with run.ctx.engine.connect() as conn:
                left = (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
            return left == 0 or None

        await wait_for(drained, 90, interval=0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)

    async with run.ctx.engine.connect() as conn:
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
    assert states == {"sent": total}, states
    counts = Counter(sends())
    assert len(counts) == total  # every message reached the provider
    duplicates = sum(n - 1 for n in counts.values())
    # Per-chat order held at the provider (first sends of each chat in queue order).
    by_chat: dict[str, list[str]] = {}
    for t in dict.fromkeys(sends()):
        by_chat.setdefault(t.rsplit("-", 1)[0], []).append(t)
    assert all(v == sorted(v) for v in by_chat.values())
    print(
        f"\nSIGKILL: {total} queued, {at_kill} sent before the kill, "
        f"{duplicates} duplicates, in {time.monotonic() - started:.1f}s"
    )
    # At most the sends in flight when the process died (each send is recorded in its own
    # transaction as soon as the provider answers): sends_in_flight per dispatcher loop.
    assert duplicates <= run.ctx.settings.dispatcher_sends_in_flight * CONCURRENCY
