"""The claim on an operator's row (chatcentre_claim_operator) is taken in the routing's own
transaction: a lock taken in a subtransaction and then updated by its parent is stored by
PostgreSQL as a MultiXact, which every later reader of the operator's row looks up. A stale
claim therefore keeps its lock, and the transaction never waits for another operator after
one (no lock cycle)."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import Running
from tests.routing.test_after_commit import ingest_without_routing
from tests.routing.test_routing import make_operators, new_lead, team_channel


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def _next_multixact(run: Running) -> int:
    """PostgreSQL's next MultiXact id, as of a checkpoint taken now."""
    async with run.ctx.engine.connect() as conn:
        await conn.execute(text("CHECKPOINT"))
        next_id = await conn.scalar(text("SELECT next_multixact_id FROM pg_control_checkpoint()"))
        await conn.rollback()
    return int(str(next_id))


async def test_routing_a_lead_creates_no_multixact(run: Running) -> None:
    admin = await run.admin_token()
    ops = await make_operators(run, admin, 2)
    key = await team_channel(run, admin, ops)
    await new_lead(run, key)  # the first lead's lazily created rows aside
    before = await _next_multixact(run)
    for i in range(5):
        await new_lead(run, key, f"hello {i}")
    async with run.ctx.sessions() as s:
        assigned = await s.scalar(
            text("SELECT count(*) FROM conversations WHERE assignee_id IS NOT NULL")
        )
    assert assigned == 6
    assert await _next_multixact(run) == before


async def _route(conn: AsyncConnection, conversation_id: int) -> Any:
    return (
        await conn.execute(
            text(
                "SELECT o_assignee_id, o_queued FROM chatcentre_route_conversation("
                ":id, '{}'::bigint[], true, :now, false, 'system', true)"
            ),
            {"id": conversation_id, "now": datetime.now(UTC)},
        )
    ).one()


async def test_a_transaction_holding_a_stale_claim_queues_rather_than_waits(run: Running) -> None:
    admin = await run.admin_token()
    full, free = await make_operators(run, admin, 2, limit=1)
    key = await team_channel(run, admin, [full, free])
    async with run.ctx.sessions() as s:  # `full` has no room left
        await s.execute(
            text("UPDATE operator_load_counts SET open_conversations = 1 WHERE operator_id = :o"),
            {"o": full},
        )
        await s.commit()
    stored = await ingest_without_routing(run, key, "client-1")
    assert stored.conversation_id is not None

    async with run.ctx.engine.connect() as holder, run.ctx.engine.connect() as router:
        # Another transaction is claiming `free`, the only operator with room.
        await holder.execute(text("SELECT 1 FROM operators WHERE id = :o FOR UPDATE"), {"o": free})
        # This transaction found `full` stale: it keeps that row locked ...
        claim = await router.scalar(
            text("SELECT chatcentre_claim_operator(:o, true, false)"), {"o": full}
        )
        assert claim == "stale"
        # ... so it must not wait for `free`: the conversation waits in the queue.
        assignee, queued = await asyncio.wait_for(_route(router, stored.conversation_id), 5)
        assert (assignee, queued) == (None, True)
        await router.commit()
        await holder.rollback()

    # A transaction with no stale claim does wait for the busy operator, and gets them.
    async with run.ctx.engine.connect() as holder, run.ctx.engine.connect() as router:
        await holder.execute(text("SELECT 1 FROM operators WHERE id = :o FOR UPDATE"), {"o": free})
        routing = asyncio.create_task(_route(router, stored.conversation_id))
        await asyncio.sleep(0.5)
        assert not routing.done()  # waiting for `free`'s row
        await holder.rollback()
        assignee, queued = await asyncio.wait_for(routing, 5)
        assert (assignee, queued) == (free, False)
        await router.commit()
