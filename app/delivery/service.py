"""The transactional outbox: queueing happens in the caller's transaction."""

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.models import OutboxItem
from app.events.dispatch import raise_event
from app.events.types import OutboxQueued


async def enqueue(
    session: AsyncSession, *, message_id: int, conversation_id: int, channel_account_id: int
) -> None:
    session.add(
        OutboxItem(
            message_id=message_id,
            conversation_id=conversation_id,
            channel_account_id=channel_account_id,
        )
    )
    await session.flush()
    # Wakes the dispatchers on every node (after commit) instead of waiting for their poll.
    await raise_event(session, OutboxQueued(message_id=message_id))


async def queue_depth(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(OutboxItem)) or 0)


_CANCEL_CHANNEL = text("""
WITH gone AS (DELETE FROM outbox WHERE channel_account_id = :channel RETURNING message_id)
UPDATE messages SET delivery_state = 'failed', failure_reason = :reason
WHERE id IN (SELECT message_id FROM gone) AND delivery_state = 'queued'
""")


async def cancel_channel(session: AsyncSession, channel_account_id: int, reason: str) -> None:
    """Nothing still waiting for this channel is sent: its messages fail with `reason`.
    (A send already in a dispatcher's hands finishes; its record then finds no row.)"""
    await session.execute(_CANCEL_CHANNEL, {"channel": channel_account_id, "reason": reason})
