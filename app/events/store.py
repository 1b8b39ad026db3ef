"""Reading the durable events in order, for consumers that come later (outgoing webhooks,
automation rules), each at its own pace.

Identity values are taken in one order and committed in another: an event with id 10 can
become visible after id 11 was read. So a reader takes events only up to the first gap in ids
that may still fill, and a gap is final (a rolled-back insert) once every transaction that had
started when the gap was first seen has ended. The reader keeps its gaps between rounds
(`Gaps`, one per reading loop); a restarted reader simply waits for them once more. Two
processes each lost events without this (tests/webhooks: 4 of 30)."""

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import EventConsumer

# One statement a batch: the consumer's position, the snapshot's horizon and the events after
# the position, all in one snapshot (the horizon and the rows agree: a transaction the horizon
# says has ended has its row among them). An event whose name the consumer does not want
# comes without its payload: most events are of no interest to a given reader, and decoding
# their JSON was most of its work.
_READ = text("""
SELECT p.after, pg_snapshot_xmin(pg_current_snapshot())::text AS xmin,
       e.id, e.name, e.occurred_at, e.aggregate, e.aggregate_id, e.actor_kind,
       CASE WHEN e.name = ANY (CAST(:wanted AS text[])) THEN e.payload END AS payload
FROM (SELECT COALESCE((SELECT last_event_id FROM event_consumers WHERE name = :consumer), 0)
      AS after) p
LEFT JOIN LATERAL (
    SELECT * FROM domain_events d WHERE d.id > p.after ORDER BY d.id LIMIT :limit
) e ON true
ORDER BY e.id
""")

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


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A stored event as a reader gets it (plain values, not an ORM row)."""

    id: int
    name: str
    occurred_at: datetime
    aggregate: str
    aggregate_id: int
    actor_kind: str | None
    payload: dict[str, Any]


@dataclass(slots=True)
class Batch:
    """What one read took, in id order."""

    after: int  # the consumer's position it was read from (0: it has none yet)
    last_id: int | None = None  # the last event id taken (None: caught up, or at a gap)
    taken: int = 0  # the events taken, wanted or not
    events: list[StoredEvent] = field(default_factory=list)  # those whose name is wanted


async def read_since(
    session: AsyncSession,
    consumer: str,
    gaps: Gaps,
    wanted: Collection[str],
    limit: int = 500,
) -> Batch:
    """The next events for `consumer` after its position, oldest first, up to the first gap
    in ids that may still fill; of them, `events` holds those named in `wanted` (the others
    only move the position: the caller advances to `last_id`)."""
    rows = (
        await session.execute(_READ, {"consumer": consumer, "wanted": list(wanted), "limit": limit})
    ).all()
    batch = Batch(after=rows[0].after)
    xmin = int(rows[0].xmin or 0)
    expected = batch.after + 1
    for row in rows:
        if row.id is None:
            break  # nothing after the position
        if row.id != expected:
            if expected not in gaps:
                gaps[expected] = int(await session.scalar(_OWN_XID) or 0)
            if xmin < gaps[expected]:
                break  # a transaction that may hold the missing id may still be running
        gaps.pop(expected, None)
        batch.last_id, batch.taken = row.id, batch.taken + 1
        if row.payload is not None:
            batch.events.append(
                StoredEvent(
                    row.id,
                    row.name,
                    row.occurred_at,
                    row.aggregate,
                    row.aggregate_id,
                    row.actor_kind,
                    row.payload,
                )
            )
        expected = row.id + 1
    return batch


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
