"""Reading the durable events in order, for consumers that come later (outgoing webhooks,
automation rules), each at its own pace.

Identity values are taken in one order and committed in another: an event with id 10 can
become visible after id 11 was read. So a reader takes only the rows written by
transactions older than every transaction still running (the snapshot's xmin), and a row
committed late is read on a later round instead of being skipped for good."""

from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import DomainEventRow, EventConsumer

_HORIZON = text("pg_snapshot_xmin(pg_current_snapshot())")


async def position(session: AsyncSession, consumer: str) -> int:
    found = await session.scalar(
        select(EventConsumer.last_event_id).where(EventConsumer.name == consumer)
    )
    return found or 0


async def read_since(
    session: AsyncSession, consumer: str, limit: int = 500
) -> Sequence[DomainEventRow]:
    """The next events for `consumer`, oldest first: after its position and below the
    horizon of transactions that may still commit."""
    after = await position(session, consumer)
    rows = await session.scalars(
        select(DomainEventRow)
        .where(DomainEventRow.id > after, DomainEventRow.txid < _HORIZON)
        .order_by(DomainEventRow.id)
        .limit(limit)
    )
    return rows.all()


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
