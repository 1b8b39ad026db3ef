"""Presence: online while a console WebSocket is open (or when set), offline otherwise.
Coming online drains the queue to the operator; going offline releases their conversations
(where their team says so). Each change commits before the follow-up work, so the follow-up
never holds the operator's row while it waits for conversation rows."""

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from app.core.errors import transient_conflict
from app.events.dispatch import raise_event
from app.events.types import OperatorPresence
from app.operators.models import Operator, Presence
from app.routing import service as routing_service

log = logging.getLogger(__name__)


async def set_presence(
    sessions: async_sessionmaker[AsyncSession], operator_id: int, presence: Presence
) -> None:
    async with sessions() as session:
        op = await session.get(Operator, operator_id, with_for_update=True)
        if op is None:
            return
        before = op.presence
        op.presence = presence
        await raise_event(
            session, OperatorPresence(operator_id=operator_id, presence=presence.value)
        )
        await session.commit()
    await after_change(sessions, operator_id, before, presence)


async def after_change(
    sessions: async_sessionmaker[AsyncSession],
    operator_id: int,
    before: Presence,
    after: Presence,
) -> None:
    if before == after:
        return
    # Many operators change at once when a node restarts; should PostgreSQL abort one of
    # their transactions (a conflict), run it again: what committed is not done twice (a
    # released conversation is no longer theirs).
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(transient_conflict),
        stop=stop_after_attempt(5),
        wait=wait_random_exponential(multiplier=0.05, max=1),
        reraise=True,
    ):
        with attempt:
            if after == Presence.online:
                async with sessions() as session:
                    await routing_service.drain(session, operator_id)
                    await session.commit()
            elif before == Presence.online:
                await routing_service.release(sessions, operator_id)


async def capacity_freed(sessions: async_sessionmaker[AsyncSession], operator_id: int) -> None:
    async with sessions() as session:
        await routing_service.drain(session, operator_id)
        await session.commit()


async def console_opened(sessions: async_sessionmaker[AsyncSession], operator_id: int) -> None:
    """One console opened, applied at once (ConsoleTally batches them in the app)."""
    await follow_up(sessions, await apply_console_changes(sessions, {operator_id: 1}))


async def console_closed(sessions: async_sessionmaker[AsyncSession], operator_id: int) -> None:
    """One console closed, applied at once (ConsoleTally batches them in the app)."""
    await follow_up(sessions, await apply_console_changes(sessions, {operator_id: -1}))


Change = tuple[int, Presence, Presence]  # operator, before, after


async def apply_console_changes(
    sessions: async_sessionmaker[AsyncSession], deltas: Mapping[int, int]
) -> list[Change]:
    """Consoles opened (+n) and closed (-n) per operator, in one transaction: live_sessions
    moves by the net count (never below 0); an offline operator with a console open comes
    online, an online one with none left goes offline, each with one presence event.
    Returns the presence changes for follow_up(). Rows are locked in id order, so two
    batches (two nodes) wait for each other instead of deadlocking."""
    changes: list[Change] = []
    wanted = sorted(op for op, n in deltas.items() if n)
    if not wanted:
        return changes
    async with sessions() as session:
        ops = await session.scalars(
            select(Operator).where(Operator.id.in_(wanted)).order_by(Operator.id).with_for_update()
        )
        for op in list(ops):
            before = op.presence
            op.live_sessions = max(op.live_sessions + deltas[op.id], 0)
            if op.live_sessions > 0 and op.presence == Presence.offline:
                op.presence = Presence.online
            elif op.live_sessions == 0 and op.presence == Presence.online:
                op.presence = Presence.offline
            if op.presence != before:
                await raise_event(
                    session, OperatorPresence(operator_id=op.id, presence=op.presence.value)
                )
                changes.append((op.id, before, op.presence))
        await session.commit()
    return changes


async def follow_up(sessions: async_sessionmaker[AsyncSession], changes: list[Change]) -> None:
    for operator_id, before, after in changes:
        await after_change(sessions, operator_id, before, after)


class ConsoleTally:
    """Console opens and closes of this process, applied in batches by one task: a node
    restart closes 1,000 consoles at once, and one transaction per close had them all
    compete for the pool that serves ingest (many timed out after 30 s, and their operators
    stayed online with nobody there). Now a batch is one transaction, and the routing that
    follows (queue drain, release) runs FOLLOW_UPS at a time. A batch that fails is put
    back and retried; opened()/closed() return once theirs is applied and followed up, so
    a console is online (and has its queued chats) when its socket is ready. Being
    cancelled does not lose the count: it is in the tally already."""

    FOLLOW_UPS = 3  # connections the routing after presence changes may hold at once
    RETRY_MAX_S = 5.0
    STOP_WAIT_S = 10.0

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._deltas: Counter[int] = Counter()
        self._waiters: list[asyncio.Future[None]] = []  # of the batch being gathered
        self._wake = asyncio.Event()
        self._gate = asyncio.Semaphore(self.FOLLOW_UPS)
        self._follow_ups: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # The batch being applied: at a shutdown that cannot wait for it, logged and let go.
        self._in_flight: tuple[Counter[int], list[asyncio.Future[None]]] = (Counter(), [])

    def start(self) -> None:
        self._task = asyncio.create_task(self._drain_forever(), name="console-tally")

    async def opened(self, operator_id: int) -> None:
        await self._add(operator_id, 1)

    async def closed(self, operator_id: int) -> None:
        await self._add(operator_id, -1)

    async def _add(self, operator_id: int, n: int) -> None:
        if self._task is None or self._task.done():  # before start or after stop
            log.error("console presence not applied (no tally running): %s %+d", operator_id, n)
            return
        self._deltas[operator_id] += n
        done = asyncio.get_running_loop().create_future()
        self._waiters.append(done)
        self._wake.set()
        await asyncio.shield(done)

    async def _drain_forever(self) -> None:
        failures = 0
        while True:
            if not self._deltas:
                if self._stopping:
                    return
                await self._wake.wait()
                self._wake.clear()
                continue
            if failures:
                await asyncio.sleep(min(self.RETRY_MAX_S, 0.1 * 2**failures))
            failures = 0 if await self._apply_batch() else failures + 1

    async def _apply_batch(self) -> bool:
        deltas, self._deltas = self._deltas, Counter()
        waiters, self._waiters = self._waiters, []
        self._in_flight = (deltas, waiters)
        try:
            changes = await apply_console_changes(self.sessions, deltas)
        except Exception:
            log.exception("console presence batch failed; retrying it")
            self._deltas.update(deltas)  # with what came meanwhile: the sum is the same
            self._waiters = waiters + self._waiters
            self._wake.set()
            return False
        task = asyncio.create_task(self._follow_up(changes, waiters))
        self._follow_ups.add(task)
        task.add_done_callback(self._follow_ups.discard)
        return True

    async def _follow_up(self, changes: list[Change], waiters: list[asyncio.Future[None]]) -> None:
        async def one(operator_id: int, before: Presence, after: Presence) -> None:
            async with self._gate:
                await after_change(self.sessions, operator_id, before, after)

        try:
            changes = await self._worth_following_up(changes)
            results = await asyncio.gather(*(one(*c) for c in changes), return_exceptions=True)
            for change, result in zip(changes, results, strict=True):
                if isinstance(result, Exception):
                    log.error("routing after presence %s failed", change, exc_info=result)
        finally:
            for done in waiters:
                if not done.done():
                    done.set_result(None)

    async def _worth_following_up(self, changes: list[Change]) -> list[Change]:
        """Drop the operators coming online for whom nothing waits (one statement for the
        batch): a mass reconnect of 1,000 consoles was 1,000 drains, each locking its
        operator's row, with an empty queue. A chat queued just after this is routed to them
        by its own routing, or handed out by the periodic drain."""
        coming = [op for op, before, after in changes if before != after == Presence.online]
        if not coming:
            return changes
        async with self.sessions() as session:
            nothing_for = set(coming) - set(
                await routing_service.who_may_drain(session, among=coming)
            )
        return [c for c in changes if c[0] not in nothing_for]

    async def stop(self) -> None:
        """Shutdown: what is still tallied (the consoles the hub just closed) is applied
        before the pool closes, for up to STOP_WAIT_S; a batch is never cut short
        (it would be unknown whether it committed)."""
        self._stopping = True
        self._wake.set()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.STOP_WAIT_S
        if self._task is not None:
            finished, _ = await asyncio.wait({self._task}, timeout=self.STOP_WAIT_S)
            if not finished:
                self._task.cancel()
                in_flight, in_flight_waiters = self._in_flight  # it may have committed
                lost = Counter(self._deltas)
                lost.update(in_flight)
                log.error("console presence maybe not applied at shutdown: %s", dict(lost))
                for done in self._waiters + in_flight_waiters:  # nobody waits for it now
                    if not done.done():
                        done.set_result(None)
        if self._follow_ups:
            await asyncio.wait(self._follow_ups, timeout=max(0.1, deadline - loop.time()))
