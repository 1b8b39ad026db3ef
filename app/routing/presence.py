"""Presence: online while a console WebSocket is open (or when set), offline otherwise.
Coming online drains the queue to the operator; going offline releases their conversations
(where their team says so). Each change commits before the follow-up work, so the follow-up
never holds the operator's row while it waits for conversation rows."""

from sqlalchemy import update
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
    # Many operators change at once when a node restarts; their routings can deadlock each
    # other, and PostgreSQL then aborts one of them: run it again (nothing was committed).
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(transient_conflict),
        stop=stop_after_attempt(5),
        wait=wait_random_exponential(multiplier=0.05, max=1),
        reraise=True,
    ):
        with attempt:
            async with sessions() as session:
                if after == Presence.online:
                    await routing_service.drain(session, operator_id)
                elif before == Presence.online:
                    await routing_service.release(session, operator_id)
                await session.commit()


async def capacity_freed(sessions: async_sessionmaker[AsyncSession], operator_id: int) -> None:
    async with sessions() as session:
        await routing_service.drain(session, operator_id)
        await session.commit()


async def console_opened(sessions: async_sessionmaker[AsyncSession], operator_id: int) -> None:
    async with sessions() as session:
        op = await session.get(Operator, operator_id, with_for_update=True)
        if op is None:
            return
        before = op.presence
        op.live_sessions += 1
        if op.presence == Presence.offline:
            op.presence = Presence.online
            await raise_event(session, OperatorPresence(operator_id=operator_id, presence="online"))
        after = op.presence
        await session.commit()
    await after_change(sessions, operator_id, before, after)


async def console_closed(sessions: async_sessionmaker[AsyncSession], operator_id: int) -> None:
    async with sessions() as session:
        op = await session.get(Operator, operator_id, with_for_update=True)
        if op is None:
            return
        before = op.presence
        await session.execute(
            update(Operator)
            .where(Operator.id == operator_id)
            .values(live_sessions=Operator.live_sessions - 1)
        )
        await session.refresh(op)
        if op.live_sessions <= 0:
            op.live_sessions = 0
            if op.presence == Presence.online:
                op.presence = Presence.offline
                await raise_event(
                    session, OperatorPresence(operator_id=operator_id, presence="offline")
                )
        after = op.presence
        await session.commit()
    await after_change(sessions, operator_id, before, after)
