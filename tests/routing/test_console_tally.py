"""Hundreds of operator consoles opening and closing at once (a node restart, a network
blip, the end of the fan-out bench) through the hooks the WebSocket route calls. Each close
used to open its own database session: they all competed for the pool that serves ingest,
many timed out, and their operators stayed online with nobody there. The tally applies them
in batches: every operator ends offline with no live session and one offline event, and the
presence work never holds more than a few of the pool's connections."""

import asyncio
import collections
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.config import Settings
from app.core.session import Event
from app.operators import service as operators_service
from app.operators.models import Operator, Presence, Role
from app.operators.schemas import OperatorCreate
from app.routing.presence import ConsoleTally
from tests.conftest import Running, running_app, truncate_all
from tests.routing.test_after_commit import ingest_without_routing
from tests.routing.test_routing import team_channel

OPERATORS = 40
CONSOLES_EACH = 6  # 240 consoles
PRESENCE_CONNECTIONS = 1 + ConsoleTally.FOLLOW_UPS  # the batch, and the routing after it


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # No workers: the pool's only users are then the consoles' presence.
    return {"db_pool_size": 5, "run_workers": False}


async def _operators(run: Running) -> list[int]:
    async with run.ctx.sessions() as session:
        for i in range(OPERATORS):
            await operators_service.create_operator(
                session,
                OperatorCreate(
                    email=f"console{i}@example.com",
                    name=f"console{i}",
                    password="ochre-82-jy",
                    role=Role.operator,
                ),
            )
        await session.commit()
        return list((await session.scalars(select(Operator.id).order_by(Operator.id))).all())


async def _states(run: Running, ids: list[int]) -> dict[int, tuple[Presence, int]]:
    async with run.ctx.sessions() as session:
        rows = await session.execute(
            select(Operator.id, Operator.presence, Operator.live_sessions).where(
                Operator.id.in_(ids)
            )
        )
        return {r.id: (r.presence, r.live_sessions) for r in rows}


class PeakCheckouts:
    """The most pool connections checked out at once while it listens."""

    def __init__(self, run: Running) -> None:
        self.pool = run.ctx.engine.sync_engine.pool
        self.now = self.peak = 0

    def __enter__(self) -> "PeakCheckouts":
        event.listen(self.pool, "checkout", self._out)
        event.listen(self.pool, "checkin", self._in)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.pool, "checkout", self._out)
        event.remove(self.pool, "checkin", self._in)

    def _out(self, *_: object) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def _in(self, *_: object) -> None:
        self.now -= 1


async def test_mass_close_takes_every_operator_offline_once(run: Running) -> None:
    ids = await _operators(run)
    hub = run.app.state.hub
    consoles = [op for op in ids for _ in range(CONSOLES_EACH)]
    presence_events: collections.Counter[tuple[int, str]] = collections.Counter()

    async def on_events(events: list[Event]) -> None:
        for e in events:
            if e["type"] == "operator.presence":
                presence_events[e["operator_id"], e["presence"]] += 1

    run.ctx.bus.subscribe(on_events)

    # A mass reconnect: every console opens at once.
    with PeakCheckouts(run) as opening:
        await asyncio.gather(*(hub.on_console_open(op) for op in consoles))
    assert await _states(run, ids) == {op: (Presence.online, CONSOLES_EACH) for op in ids}
    assert opening.peak <= PRESENCE_CONNECTIONS

    # ... and every console closes at once.
    with PeakCheckouts(run) as closing:
        await asyncio.gather(*(hub.on_console_close(op) for op in consoles))
    assert await _states(run, ids) == {op: (Presence.offline, 0) for op in ids}
    assert closing.peak <= PRESENCE_CONNECTIONS

    for _ in range(100):  # the bus delivers after commit
        if sum(n for (_, p), n in presence_events.items() if p == "offline") >= OPERATORS:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # room for a duplicate to arrive
    assert {op: presence_events[op, "offline"] for op in ids} == {op: 1 for op in ids}
    assert {op: presence_events[op, "online"] for op in ids} == {op: 1 for op in ids}


@contextlib.contextmanager
def operators_locked(run: Running) -> Iterator[set[int]]:
    """The operators whose row is locked on its own (`FOR UPDATE` by one id, as a drain
    does; the tally's batch locks its operators together) inside the block."""
    locked: set[int] = set()

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        one = "WHERE operators.id = $1" in statement
        if one and statement.startswith("SELECT operators.") and statement.endswith("FOR UPDATE"):
            locked.add(parameters[0])

    sync = run.ctx.engine.sync_engine
    event.listen(sync, "before_cursor_execute", seen)
    try:
        yield locked
    finally:
        event.remove(sync, "before_cursor_execute", seen)


async def test_a_mass_reconnect_drains_only_who_may_take_something(run: Running) -> None:
    """Operators coming online take what waits for them, but the batch asks once who that
    is: only they are drained (each drain locks its operator's row)."""
    ids = await _operators(run)
    admin = await run.admin_token()
    key = await team_channel(run, admin, [ids[3]])
    waiting = await ingest_without_routing(run, key, "waits-for-the-team")
    hub = run.app.state.hub
    with operators_locked(run) as locked:
        await asyncio.gather(*(hub.on_console_open(op) for op in ids))
    assert locked == {ids[3]}, f"{len(locked)} operators' rows locked"
    async with run.ctx.sessions() as session:
        assignee = await session.scalar(
            text("SELECT assignee_id FROM conversations WHERE id = :id"),
            {"id": waiting.conversation_id},
        )
    assert assignee == ids[3]


async def test_a_failed_batch_is_retried_and_no_close_is_lost(run: Running) -> None:
    """The database refuses presence writes for a while (a trigger raises): the closes wait
    in the tally, and are all applied once it accepts them again."""
    ids = await _operators(run)
    hub = run.app.state.hub
    await asyncio.gather(*(hub.on_console_open(op) for op in ids for _ in range(2)))
    async with run.ctx.engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER test_refuse BEFORE UPDATE ON operators "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse()"
            )
        )
    try:
        closes = asyncio.gather(*(hub.on_console_close(op) for op in ids for _ in range(2)))
        await asyncio.sleep(1.0)  # a few batches fail meanwhile
        assert not closes.done()
        assert await _states(run, ids) == {op: (Presence.online, 2) for op in ids}
    finally:
        async with run.ctx.engine.begin() as conn:
            await conn.execute(text("DROP TRIGGER test_refuse ON operators"))
            await conn.execute(text("DROP FUNCTION test_refuse()"))
    await asyncio.wait_for(closes, 30)
    assert await _states(run, ids) == {op: (Presence.offline, 0) for op in ids}


async def test_shutdown_applies_the_closes_still_tallied(settings: Settings) -> None:
    """A node stopping with closes tallied but not yet applied (their batch waits for the
    operators' rows): the app's shutdown waits for them before it closes the pool."""
    async with running_app(settings, truncate=False) as run:
        url = run.ctx.database_url
        ids = await _operators(run)
        hub = run.app.state.hub
        await asyncio.gather(*(hub.on_console_open(op) for op in ids))
        other = create_async_engine(url, poolclass=NullPool)
        locker = await other.connect()
        await locker.begin()
        await locker.execute(select(Operator.id).where(Operator.id.in_(ids)).with_for_update())
        closes = [asyncio.create_task(hub.on_console_close(op)) for op in ids]
        await asyncio.sleep(0.3)  # the batch is waiting for the rows

        async def let_go() -> None:
            await asyncio.sleep(1.0)  # while the app shuts down
            await locker.rollback()
            await locker.close()

        letting_go = asyncio.create_task(let_go())
    # The app has stopped: what it tallied was applied before.
    try:
        async with other.connect() as conn:
            rows = await conn.execute(
                select(Operator.id, Operator.presence, Operator.live_sessions).where(
                    Operator.id.in_(ids)
                )
            )
            assert {r.id: (r.presence, r.live_sessions) for r in rows} == {
                op: (Presence.offline, 0) for op in ids
            }
        await letting_go
        await asyncio.gather(*closes)
    finally:
        await other.dispose()
        await truncate_all(url)
