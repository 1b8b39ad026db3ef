"""The operators' loads are counts kept by triggers (operator_load_counts), not counted at
every routing (issue 22). Whatever changes an assignee, a status, an owner or a stage, from
any path and concurrently, the counts stay equal to what counting the rows gives."""

import asyncio
import random
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.errors import transient_conflict
from tests.conftest import Running
from tests.routing.test_routing import make_operators, new_lead, team_channel

# The counting the triggers replace, written here as the test's own oracle.
_COUNTED = text("""
    SELECT o.id,
           (SELECT count(*) FROM conversations c
            WHERE c.assignee_id = o.id AND c.status <> 'resolved') AS open_conversations,
           (SELECT count(*) FROM contacts ct
            WHERE ct.owner_id = o.id AND ct.stage <> 'lost') AS live_base
    FROM operators o ORDER BY o.id
""")
_KEPT = text("""
    SELECT o.id, n.open_conversations, n.live_base
    FROM operators o JOIN operator_load_counts n ON n.operator_id = o.id ORDER BY o.id
""")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def _counts(run: Running) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    async with run.ctx.engine.connect() as conn:
        counted = [tuple(r) for r in (await conn.execute(_COUNTED)).all()]
        kept = [tuple(r) for r in (await conn.execute(_KEPT)).all()]
    return counted, kept  # type: ignore[return-value]


async def _one_change(conn: AsyncConnection, rnd: random.Random, ops: list[int]) -> None:
    """One random change in its own transaction, the way any path could make it."""
    async with conn.begin():
        conv = await conn.scalar(text("SELECT id FROM conversations ORDER BY random() LIMIT 1"))
        contact = await conn.scalar(text("SELECT id FROM contacts ORDER BY random() LIMIT 1"))
    if conv is None or contact is None:
        return
    choice = rnd.randrange(7)
    if choice == 0:  # a transfer (or an assignment)
        sql, params = (
            "UPDATE conversations SET assignee_id = :op WHERE id = :id",
            {
                "op": rnd.choice(ops),
                "id": conv,
            },
        )
    elif choice == 1:  # unassigned: back to the queue
        sql, params = "UPDATE conversations SET assignee_id = NULL WHERE id = :id", {"id": conv}
    elif choice == 2:  # resolved, or reopened
        sql = (
            "UPDATE conversations SET status = CASE WHEN status = 'resolved' THEN 'open' "
            "ELSE 'resolved' END WHERE id = :id"
        )
        params = {"id": conv}
    elif choice == 3:  # a transfer and a status change in one statement
        sql = "UPDATE conversations SET assignee_id = :op, status = 'pending' WHERE id = :id"
        params = {"op": rnd.choice(ops), "id": conv}
    elif choice == 4:  # another owner, or none
        sql = "UPDATE contacts SET owner_id = :op WHERE id = :id"
        params = {"op": rnd.choice([*ops, None]), "id": contact}
    elif choice == 5:  # lost, or back to lead
        sql = (
            "UPDATE contacts SET stage = CASE WHEN stage = 'lost' THEN 'lead' ELSE 'lost' END "
            "WHERE id = :id"
        )
        params = {"id": contact}
    else:  # the client erased (GDPR): their conversations go with them
        sql, params = "DELETE FROM contacts WHERE id = :id", {"id": contact}
    # Two changes can lock the same rows in opposite orders (erasing a client deletes their
    # conversations one by one while a transfer holds one of them): PostgreSQL aborts one as
    # a deadlock victim, whole, and the service answers such an abort as a retryable
    # conflict. So does this test: an aborted change changed nothing, and is made again.
    for _attempt in range(10):
        try:
            async with conn.begin():
                await conn.execute(text(sql), params)
            return
        except DBAPIError as exc:
            if not transient_conflict(exc):
                raise
    raise AssertionError("a change lost ten deadlocks in a row")


async def test_counts_follow_every_change_made_concurrently(run: Running) -> None:
    admin = await run.admin_token()
    ops = await make_operators(run, admin, 4, limit=1000)
    key = await team_channel(run, admin, ops)
    for i in range(24):
        await new_lead(run, key, f"lead {i}")
    counted, kept = await _counts(run)
    assert sum(r[1] for r in kept) == 24 and sum(r[2] for r in kept) == 24
    assert kept == counted

    async def worker(seed: int) -> None:
        rnd = random.Random(seed)
        async with run.ctx.engine.connect() as conn:
            for _ in range(25):
                await _one_change(conn, rnd, ops)

    await asyncio.gather(*(worker(seed) for seed in range(6)))
    counted, kept = await _counts(run)
    assert kept == counted


async def test_a_new_operator_starts_empty_and_deleting_one_is_not_blocked(
    run: Running,
) -> None:
    admin = await run.admin_token()
    ops = await make_operators(run, admin, 2, limit=1000)
    key = await team_channel(run, admin, ops)
    for i in range(4):
        await new_lead(run, key, f"lead {i}")
    counted, kept = await _counts(run)
    assert kept == counted and len(kept) == 3  # the admin too, with nothing
    async with run.ctx.engine.begin() as conn:
        # Their conversations and clients are let go (ON DELETE SET NULL) while their own
        # count row goes (ON DELETE CASCADE): the triggers must not stand in the way.
        await conn.execute(text("DELETE FROM operators WHERE id = :id"), {"id": ops[0]})
    counted, kept = await _counts(run)
    assert kept == counted and len(kept) == 2
