"""The durable store read by consumers: in id order, each from its own position, and never
past an id whose transaction may still commit (identity values commit out of order)."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.context import AppContext, build_context
from app.events import store
from app.events.dispatch import raise_event
from app.events.types import ConversationQueued, ConversationResolved
from tests.conftest import truncate_all


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[AppContext]:
    ctx = build_context(settings)
    try:
        yield ctx
    finally:
        await ctx.engine.dispose()
        await truncate_all(ctx.database_url)


# One reading loop per consumer, as a worker keeps it (the gaps it is waiting on).
_GAPS: dict[str, store.Gaps] = {}


RESOLVED = ["conversation.resolved"]


async def ids_for(session: AsyncSession, consumer: str) -> list[int]:
    batch = await store.read_since(session, consumer, _GAPS.setdefault(consumer, {}), RESOLVED)
    await session.commit()  # a new snapshot next time
    return [r.aggregate_id for r in batch.events]


async def eventually_ids(session: AsyncSession, consumer: str) -> list[int]:
    """The horizon is the server's: other databases' transactions (parallel test runs) hold
    it back for a moment too."""
    for _ in range(100):
        found = await ids_for(session, consumer)
        if found:
            return found
        await asyncio.sleep(0.05)
    return []


@pytest.fixture(autouse=True)
def fresh_readers() -> None:
    _GAPS.clear()


async def test_a_reader_stops_below_a_transaction_still_running(ctx: AppContext) -> None:
    async with ctx.sessions() as early, ctx.sessions() as late, ctx.sessions() as reader:
        await raise_event(early, ConversationResolved(conversation_id=1))
        await early.flush()  # takes the smaller id, and a transaction id, and waits
        await raise_event(late, ConversationResolved(conversation_id=2))
        await late.commit()
        # Reading row 2 now would move the position past row 1 before row 1 is visible.
        assert await ids_for(reader, "webhooks") == []
        await early.commit()
        assert await eventually_ids(reader, "webhooks") == [1, 2]


async def test_each_consumer_advances_on_its_own(ctx: AppContext) -> None:
    async with ctx.sessions() as session:
        for conversation_id in (1, 2, 3):
            await raise_event(session, ConversationResolved(conversation_id=conversation_id))
        await session.commit()
    async with ctx.sessions() as session:
        await eventually_ids(session, "webhooks")
        batch = await store.read_since(session, "webhooks", _GAPS["webhooks"], RESOLVED, limit=2)
        rows = batch.events
        assert [r.aggregate_id for r in rows] == [1, 2] and batch.last_id == rows[-1].id
        assert all(r.name == "conversation.resolved" for r in rows)
        await store.advance(session, "webhooks", rows[-1].id)
        await session.commit()
        assert await eventually_ids(session, "webhooks") == [3]
        assert await eventually_ids(session, "automation") == [1, 2, 3]
        await store.advance(session, "webhooks", rows[0].id)  # never back
        await session.commit()
        assert await store.position(session, "webhooks") == rows[-1].id


async def test_a_smaller_id_of_a_younger_transaction_is_not_skipped(ctx: AppContext) -> None:
    """The older transaction (smaller transaction id) commits the larger event id first: a
    horizon by transaction id would read it and move past the smaller one for good."""
    async with ctx.sessions() as old, ctx.sessions() as young, ctx.sessions() as reader:
        await old.execute(text("SELECT pg_current_xact_id()"))  # old's transaction id first
        await young.execute(text("SELECT pg_current_xact_id()"))
        await raise_event(young, ConversationResolved(conversation_id=1))
        await young.flush()  # the smaller event id
        await raise_event(old, ConversationResolved(conversation_id=2))
        await old.commit()
        assert await ids_for(reader, "webhooks") == []
        await young.commit()
        assert await eventually_ids(reader, "webhooks") == [1, 2]


async def test_events_not_wanted_move_the_position_without_their_payload(
    ctx: AppContext,
) -> None:
    async with ctx.sessions() as session:
        await raise_event(session, ConversationResolved(conversation_id=1))
        await raise_event(session, ConversationQueued(conversation_id=2))
        await raise_event(session, ConversationResolved(conversation_id=3))
        await session.commit()
    async with ctx.sessions() as session:
        await eventually_ids(session, "webhooks")  # the horizon has passed them
        batch = await store.read_since(session, "automation", {}, RESOLVED)
        assert batch.taken == 3 and batch.after == 0
        assert [(e.name, e.aggregate_id) for e in batch.events] == [
            ("conversation.resolved", 1),
            ("conversation.resolved", 3),
        ]
        assert batch.events[0].payload["conversation_id"] == 1
        assert batch.last_id == batch.events[-1].id
        nothing = await store.read_since(session, "automation", {}, [])
        assert nothing.taken == 3 and nothing.events == []
