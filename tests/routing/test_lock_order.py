"""Writes that hold a conversation and may then route it (routing locks the client: they may
become the operator's) take the client's row first: the ingest's order (identity, client,
conversation). Otherwise a client writing at that moment holds the client and waits for the
conversation while the write holds the conversation and waits for the client; PostgreSQL
aborts one, and the client gets a 503."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.inbox import rules as inbox_rules
from app.inbox.queries import get_conversation
from app.operators.models import Role
from app.operators.service import Principal
from app.routing import commands as routing_commands
from app.routing import service as routing_service
from app.routing import tasks
from tests.conftest import Running
from tests.helpers import auth
from tests.routing.test_after_commit import ingest_without_routing
from tests.routing.test_routing import (
    assignees,
    make_operators,
    new_lead,
    set_presence,
    team_channel,
)

ADMIN = Principal(kind="operator", id=0, scopes=frozenset(), role=Role.admin)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def _locked(run: Running, table: str, row_id: int) -> bool:
    """Whether another transaction holds the row (asked with NOWAIT, so never waits)."""
    async with run.ctx.engine.connect() as conn:
        try:
            await conn.execute(
                text(f"SELECT 1 FROM {table} WHERE id = :id FOR UPDATE NOWAIT"),
                {"id": row_id},
            )
        except DBAPIError as exc:
            assert "55P03" in str(getattr(exc.orig, "sqlstate", "")) or "lock" in str(exc)
            return True
        finally:
            await conn.rollback()
    return False


async def _operator_takes_it(run: Running, conversation_id: int) -> None:
    async with run.ctx.sessions() as session:
        await get_conversation(session, ADMIN, conversation_id, lock=True)
        await session.rollback()


async def _bot_hands_it_off(run: Running, conversation_id: int) -> None:
    async with run.ctx.sessions() as session:
        await routing_commands.handoff(session, conversation_id)
        await session.rollback()


@pytest.mark.parametrize("write", [_operator_takes_it, _bot_hands_it_off])
async def test_the_client_is_locked_before_the_conversation(run: Running, write: Any) -> None:
    admin = await run.admin_token()
    ops = await make_operators(run, admin, 1)
    key = await team_channel(run, admin, ops)
    stored = await ingest_without_routing(run, key, "client-1")
    assert stored.conversation_id is not None
    conversation_id, contact_id = stored.conversation_id, stored.contact_id
    async with run.ctx.sessions() as session:  # a bot's conversation (the handoff's case)
        await session.execute(
            text("UPDATE conversations SET status = :s WHERE id = :id"),
            {"s": inbox_rules.WITH_BOT.value, "id": conversation_id},
        )
        await session.commit()

    async with run.ctx.engine.connect() as holder:  # the conversation is busy elsewhere
        await holder.execute(
            text("SELECT 1 FROM conversations WHERE id = :id FOR UPDATE"), {"id": conversation_id}
        )
        acting = asyncio.create_task(write(run, conversation_id))
        for _ in range(100):  # the write now waits for the conversation ...
            if await _locked(run, "contacts", contact_id):
                break
            await asyncio.sleep(0.05)
        # ... holding the client already, so the client's next message waits for it.
        assert await _locked(run, "contacts", contact_id)
        assert not acting.done()
        await holder.rollback()
    await asyncio.wait_for(acting, 10)


async def test_a_missed_response_skips_a_client_being_written_to(run: Running) -> None:
    """The periodic reassignment of missed responses takes the client's row with the
    conversation's, skipping both while the client's message holds the client: it neither
    waits nor deadlocks, and takes the conversation on a later round."""
    admin = await run.admin_token()
    ops = await make_operators(run, admin, 2)
    key = await team_channel(run, admin, ops)
    conversation_id = await new_lead(run, key)
    async with run.ctx.sessions() as session:
        contact_id = await session.scalar(
            text(
                "UPDATE conversations SET response_due_at = now() - interval '1 minute' "
                "WHERE id = :id AND assignee_id IS NOT NULL RETURNING contact_id"
            ),
            {"id": conversation_id},
        )
        await session.commit()
    assert contact_id is not None

    async with run.ctx.engine.connect() as holder:  # the client's message is being stored
        await holder.execute(
            text("SELECT 1 FROM contacts WHERE id = :id FOR UPDATE"), {"id": contact_id}
        )
        assert await asyncio.wait_for(tasks.run_missed_responses(run.ctx.sessions), 5) == 0
        await holder.rollback()
    assert await tasks.run_missed_responses(run.ctx.sessions) == 1


async def test_missed_responses_are_reassigned_one_transaction_each(run: Running) -> None:
    """Each reassignment of a missed response commits before the next one claims an
    operator. In one transaction for all, the first one's operator (a) stayed locked while
    the second waited for b's row; a routing that held b and then wanted a closed the cycle,
    and PostgreSQL aborted one of them (seen in bench.ingest's 5-operator run)."""
    admin = await run.admin_token()
    z, a, b = await make_operators(run, admin, 3)
    key = await team_channel(run, admin, [z, a, b], response_target_seconds=60)
    for op in (a, b):
        await set_presence(run, admin, op, "offline")
    first, second = await new_lead(run, key), await new_lead(run, key)
    assert (await assignees(run))[first] == (await assignees(run))[second] == z
    for op in (a, b):
        await set_presence(run, admin, op, "online")
    r = await run.client.patch(
        f"/api/v1/operators/{a}", json={"max_open_conversations": 1}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    async with run.ctx.sessions() as session:  # z answered neither in time, first first
        for conv, ago in ((first, "2 minutes"), (second, "1 minute")):
            await session.execute(
                text(
                    f"UPDATE conversations SET response_due_at = now() - interval '{ago}' "
                    "WHERE id = :id"
                ),
                {"id": conv},
            )
        await session.commit()

    timers = tasks.RoutingTimers(run.ctx)
    async with run.ctx.engine.connect() as other:  # another routing holds b ...
        await other.execute(text("SET lock_timeout = '5s'"))
        await other.execute(text("SELECT 1 FROM operators WHERE id = :id FOR UPDATE"), {"id": b})
        round_ = asyncio.create_task(timers.tick(with_drain=False))
        for _ in range(100):  # ... so the second reassignment waits for b (a is full)
            if await _waiting_for_a_lock(run):
                break
            await asyncio.sleep(0.05)
        assert await _waiting_for_a_lock(run)
        # ... and then wants a: free, since the first reassignment has committed.
        await other.execute(text("SELECT 1 FROM operators WHERE id = :id FOR UPDATE"), {"id": a})
        await other.rollback()
    await asyncio.wait_for(round_, 10)
    after = await assignees(run)
    assert (after[first], after[second]) == (a, b)


async def _waiting_for_a_lock(run: Running) -> bool:
    return await _lock_waits(run) > 0


async def test_releases_in_two_teams_sharing_operators_do_not_deadlock(run: Running) -> None:
    """Two operators go offline at once, a in one team and b in another; x and y (room for
    one each) serve both teams, and each is the owner of one of a's clients and one of b's.
    Each conversation released is routed in a transaction of its own. In one transaction
    per release, a's release held x (its first chat) and waited for y, while b's held y and
    waited for x: PostgreSQL aborted one of them."""
    admin = await run.admin_token()
    a, b, x, y = await make_operators(run, admin, 4, online=False)
    for op in (x, y):
        r = await run.client.patch(
            f"/api/v1/operators/{op}", json={"max_open_conversations": 1}, headers=auth(admin)
        )
        assert r.status_code == 200, r.text
    key_a = await team_channel(run, admin, [a, x, y], name="North")
    key_b = await team_channel(run, admin, [b, x, y], name="South")
    await set_presence(run, admin, a, "online")
    await set_presence(run, admin, b, "online")
    a1, a2 = await new_lead(run, key_a), await new_lead(run, key_a)
    b1, b2 = await new_lead(run, key_b), await new_lead(run, key_b)
    assert [(await assignees(run))[c] for c in (a1, a2, b1, b2)] == [a, a, b, b]
    async with run.ctx.sessions() as session:  # whose client each one is; a and b leave
        for conv, owner in ((a1, x), (a2, y), (b1, y), (b2, x)):
            await session.execute(
                text(
                    "UPDATE contacts SET owner_id = :owner WHERE id = "
                    "(SELECT contact_id FROM conversations WHERE id = :id)"
                ),
                {"owner": owner, "id": conv},
            )
        await session.execute(
            text("UPDATE operators SET presence = 'offline' WHERE id IN (:a, :b)"),
            {"a": a, "b": b},
        )
        await session.execute(
            text("UPDATE operators SET presence = 'online' WHERE id IN (:x, :y)"),
            {"x": x, "y": y},
        )
        await session.commit()

    async with run.ctx.engine.connect() as other:  # both releases start on a held x and y
        await other.execute(
            text("SELECT 1 FROM operators WHERE id IN (:x, :y) FOR UPDATE"), {"x": x, "y": y}
        )
        releases = [
            asyncio.create_task(routing_service.release(run.ctx.sessions, op)) for op in (a, b)
        ]
        for _ in range(100):  # a's first chat waits for x (its owner), b's for y
            if await _lock_waits(run) >= 2:
                break
            await asyncio.sleep(0.05)
        assert await _lock_waits(run) >= 2
        await other.rollback()
    moved = await asyncio.wait_for(asyncio.gather(*releases), 15)
    assert moved == [[a1, a2], [b1, b2]]
    after = await assignees(run)
    # Each owner took their first client; the second ones wait (x and y are full).
    assert [after[c] for c in (a1, b1, a2, b2)] == [x, y, None, None]


async def _lock_waits(run: Running) -> int:
    """How many sessions of this test's database wait for a lock."""
    async with run.ctx.engine.connect() as conn:
        return int(
            await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        )
