"""raise_event: tx handlers run in order inside the caller's transaction (and may raise
events, to a bounded depth), durable events are stored, the bus frame and the after-commit
work happen only after commit, and a rollback drops all of it."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.context import AppContext, build_context
from app.core.session import Event
from app.events.dispatch import EventLoop, off, on, raise_event, run_after_commit
from app.events.models import DomainEventRow
from app.events.types import ConversationCreated, DomainEvent, MessageCreated
from tests.conftest import truncate_all


@dataclass(frozen=True, slots=True, kw_only=True)
class Pinged(DomainEvent):
    name: ClassVar[str] = "test.pinged"
    bus_type: ClassVar[str | None] = "test.pinged"
    bus_keys: ClassVar[tuple[str, ...]] = ("thing_id",)
    aggregate: ClassVar[str] = "thing"
    aggregate_key: ClassVar[str] = "thing_id"
    actor_key: ClassVar[str | None] = "by"

    thing_id: int
    by: int | None = None
    depth: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Echoed(DomainEvent):
    name: ClassVar[str] = "test.echoed"
    bus_type: ClassVar[str | None] = "test.echoed"
    bus_keys: ClassVar[tuple[str, ...]] = ("thing_id",)
    durable: ClassVar[bool] = False
    aggregate: ClassVar[str] = "thing"
    aggregate_key: ClassVar[str] = "thing_id"

    thing_id: int


class Heard:
    def __init__(self) -> None:
        self.frames: list[Event] = []

    async def __call__(self, events: list[Event]) -> None:
        self.frames.extend(e for e in events if e["type"].startswith("test."))

    async def wait_for(self, count: int) -> list[Event]:
        for _ in range(300):
            if len(self.frames) >= count:
                break
            await asyncio.sleep(0.01)
        return self.frames


@pytest.fixture
async def ctx(settings: Settings) -> AsyncIterator[AppContext]:
    ctx = build_context(settings)
    await ctx.bus.start()
    try:
        yield ctx
    finally:
        await ctx.close()
        await truncate_all(ctx.database_url)


@pytest.fixture
async def heard(ctx: AppContext) -> Heard:
    heard = Heard()
    ctx.bus.subscribe(heard)
    return heard


@pytest.fixture(autouse=True)
def no_test_handlers() -> Iterator[None]:
    yield None
    for name in ("first", "second", "third", "echo", "again", "later", "boom"):
        off(Pinged, name)
        off(Echoed, name)


async def stored(session: AsyncSession, name: str) -> list[DomainEventRow]:
    rows = await session.scalars(select(DomainEventRow).where(DomainEventRow.name == name))
    return list(rows.all())


async def test_tx_handlers_run_in_registration_order_inside_the_transaction(
    ctx: AppContext,
) -> None:
    calls: list[str] = []

    def recorder(label: str) -> Callable[[AsyncSession, Pinged], Awaitable[None]]:
        async def handler(session: AsyncSession, ev: Pinged) -> None:
            assert session.in_transaction()
            calls.append(f"{label}:{ev.thing_id}")

        return handler

    on(Pinged, recorder("b"), name="first")
    on(Pinged, recorder("a"), name="second")
    on(Pinged, recorder("c"), name="third")
    on(Pinged, recorder("a2"), name="second")  # the same name again replaces in place
    async with ctx.sessions() as session:
        await raise_event(session, Pinged(thing_id=7))
        assert calls == ["b:7", "a2:7", "c:7"]  # before commit: in the transaction
        await session.commit()


async def test_a_durable_event_is_stored_with_its_payload_and_actor(ctx: AppContext) -> None:
    async with ctx.sessions() as session:
        await raise_event(session, Pinged(thing_id=3, by=11))
        await raise_event(session, Echoed(thing_id=3))  # not durable: not stored
        await session.commit()
    async with ctx.sessions() as session:
        rows = await stored(session, "test.pinged")
        assert len(rows) == 1
        row = rows[0]
        assert (row.aggregate, row.aggregate_id) == ("thing", 3)
        assert (row.actor_kind, row.actor_id) == ("operator", 11)
        assert row.payload == {"thing_id": 3, "by": 11, "depth": 0}
        assert row.version == 1 and row.occurred_at is not None
        assert Pinged(**row.payload) == Pinged(thing_id=3, by=11)
        assert await stored(session, "test.echoed") == []


async def test_stored_events_are_not_stored_twice(ctx: AppContext) -> None:
    async with ctx.sessions() as session:
        await raise_event(session, Pinged(thing_id=4), stored=True)
        await session.commit()
        assert await stored(session, "test.pinged") == []


async def test_handlers_may_raise_events_to_a_bounded_depth(ctx: AppContext) -> None:
    order: list[str] = []

    async def echo(session: AsyncSession, ev: Pinged) -> None:
        order.append(f"pinged:{ev.thing_id}")
        await raise_event(session, Echoed(thing_id=ev.thing_id))

    async def heard_echo(session: AsyncSession, ev: Echoed) -> None:
        order.append(f"echoed:{ev.thing_id}")

    on(Pinged, echo, name="echo")
    on(Echoed, heard_echo, name="echo")
    async with ctx.sessions() as session:
        await raise_event(session, Pinged(thing_id=1))
        assert order == ["pinged:1", "echoed:1"]
        await session.commit()

    async def again(session: AsyncSession, ev: Pinged) -> None:
        await raise_event(session, Pinged(thing_id=ev.thing_id, depth=ev.depth + 1))

    on(Pinged, again, name="again")
    async with ctx.sessions() as session:
        with pytest.raises(EventLoop):
            await raise_event(session, Pinged(thing_id=2))
        await session.rollback()
        assert session.info.get("event_depth", 0) == 0


async def test_after_commit_the_frame_reaches_the_bus_in_order(
    ctx: AppContext, heard: Heard
) -> None:
    async def echo(session: AsyncSession, ev: Pinged) -> None:
        await raise_event(session, Echoed(thing_id=ev.thing_id))

    on(Pinged, echo, name="echo")
    async with ctx.sessions() as session:
        await raise_event(session, Pinged(thing_id=5, by=1))
        await asyncio.sleep(0.1)
        assert heard.frames == []  # nothing before the commit
        await session.commit()
    frames = await heard.wait_for(2)
    # The cause goes out before the events its handlers raised (created before assigned).
    assert frames == [
        {"type": "test.pinged", "thing_id": 5},
        {"type": "test.echoed", "thing_id": 5},
    ]


async def test_a_rollback_drops_the_row_the_frame_and_the_after_commit_work(
    ctx: AppContext, heard: Heard
) -> None:
    later: list[int] = []

    async def after(ctx: AppContext, ev: Pinged) -> None:
        later.append(ev.thing_id)

    on(Pinged, after, name="later", phase="after_commit")
    async with ctx.sessions() as session:
        await raise_event(session, Pinged(thing_id=9))
        assert later == []  # not in the transaction
        await session.rollback()
        await run_after_commit(session, ctx)
        assert later == []
        await raise_event(session, Echoed(thing_id=10))  # the marker that does go out
        await session.commit()
    frames = await heard.wait_for(1)
    await asyncio.sleep(0.1)
    assert frames == [{"type": "test.echoed", "thing_id": 10}]
    async with ctx.sessions() as session:
        assert await stored(session, "test.pinged") == []

    async with ctx.sessions() as session:
        await raise_event(session, Pinged(thing_id=12))
        await session.commit()
        await run_after_commit(session, ctx)
        await run_after_commit(session, ctx)  # runs once
    assert later == [12]


async def test_a_failing_tx_handler_fails_the_transaction(ctx: AppContext) -> None:
    async def boom(session: AsyncSession, ev: Pinged) -> None:
        raise ValueError("no")

    on(Pinged, boom, name="boom")
    async with ctx.sessions() as session:
        with pytest.raises(ValueError):
            await raise_event(session, Pinged(thing_id=13))
        await session.rollback()
    async with ctx.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(DomainEventRow)) == 0


def test_the_ingest_payload_keys_build_the_events() -> None:
    """The SQL ingest writes these keys (see app/events/types.py); they must stay in step."""
    message = {
        "message_id": 1,
        "conversation_id": 2,
        "contact_id": 3,
        "channel_id": 4,
        "channel_type": "telegram",
        "direction": "inbound",
        "sender_type": "contact",
        "operator_id": None,
        "touch_kind": "message",
        "chain": None,
        "step": None,
        "order_id": None,
        "rating": None,
        "answers_survey": None,
        "first_part": True,
    }
    assert MessageCreated(**message).payload() == message
    created = {
        "conversation_id": 2,
        "contact_id": 3,
        "channel_id": 4,
        "channel_type": "telegram",
        "team_id": None,
        "opened_by": "contact",
    }
    assert ConversationCreated(**created).payload() == created
    assert MessageCreated(**message).bus() == {
        "type": "message.created",
        "conversation_id": 2,
        "message_id": 1,
    }
