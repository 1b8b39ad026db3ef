"""Reading the durable events in order, for consumers that come later (outgoing webhooks,
automation rules), each at its own pace.

Identity values are taken in one order and committed in another: an event with id 10 can
become visible after id 11 was read. So a reader takes events only up to the first gap in ids
that may still fill, and a gap is final (a rolled-back insert) once every transaction that had
started when the gap was first seen has ended. The reader keeps its gaps between rounds
(`Gaps`, one per reading loop); a restarted reader simply waits for them once more. Two
processes each lost events without this (tests/webhooks: 4 of 30)."""

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import DomainEventRow, EventConsumer

_XMIN = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
# The reader's own transaction id, taken when a gap is first seen: every transaction that
# could hold the missing id had its id by then, so all of them have ended once the oldest
# running transaction is no older than this (a snapshot's xmax would not do: it is one past
# the last *completed* id, below transactions still running).
_OWN_XID = text("SELECT pg_current_xact_id()::text")

Gaps = dict[int, int]
"""Per reading loop: an event id not seen yet -> the reader's transaction id when first seen."""


async def position(session: AsyncSession, consumer: str) -> int:
    found = await session.scalar(
        select(EventConsumer.last_event_id).where(EventConsumer.name == consumer)
    )
    return found or 0


async def read_since(
    session: AsyncSession, consumer: str, gaps: Gaps, limit: int = 500
) -> list[DomainEventRow]:
    """The next events for `consumer`, oldest first, after its position and up to the first
    gap in ids that may still fill."""
    after = await position(session, consumer)
    rows = await session.scalars(
        select(DomainEventRow)
        .where(DomainEventRow.id > after)
        .order_by(DomainEventRow.id)
        .limit(limit)
    )
    xmin = int(await session.scalar(_XMIN) or 0)
    expected = after + 1
    taken: list[DomainEventRow] = []
    for event in rows:
        if event.id != expected:
            if expected not in gaps:
                gaps[expected] = int(await session.scalar(_OWN_XID) or 0)
            if xmin < gaps[expected]:
                break  # a transaction that may hold the missing id may still be running
        gaps.pop(expected, None)
        taken.append(event)
        expected = event.id + 1
    return taken


async def advance(session: AsyncSession, consumer: str, last_event_id: int) -> None:
    """Record that `consumer` has handled everything up to `last_event_id` (never back)."""
    stmt = insert(EventConsumer).values(name=consumer, last_event_id=last_event_id)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[EventConsumer.name],
            set_={
                "last_event_id": func.greatest(EventConsumer.last_event_id, last_event_id),
                "updated_at": func.now(),
            },
        )
    )
