"""Status callbacks that arrive before their send is recorded.

WhatsApp can post a message's "sent" or "delivered" before the send's own HTTP answer (with
the provider's message id) is committed here. Such a status is kept, keyed by the provider
message id, and applied when the send is recorded (the dispatcher's record statement hands
it back) or, for one that raced with that commit, by the sweep a moment later; old ones are
dropped."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.core.context import AppContext
from app.core.periodic import Periodic
from app.delivery.statuses import apply_status
from connectors.base import StatusUpdate

# Meta retries a callback for days, but a send is recorded within seconds of its answer.
KEEP_FOR = timedelta(hours=1)
SWEEP_SECONDS = 5.0

_KEEP = text("""
INSERT INTO pending_statuses
    (channel_account_id, provider_message_id, state, at, error_code, error_title)
SELECT CAST(:channel_id AS bigint), CAST(:provider_id AS varchar), CAST(:state AS varchar),
       CAST(:at AS timestamptz), CAST(:code AS varchar), CAST(:title AS text)
WHERE NOT EXISTS (SELECT 1 FROM messages WHERE channel_account_id = :channel_id
                                          AND provider_message_id = :provider_id)
ON CONFLICT DO NOTHING
""")

_MATCHED = text("""
DELETE FROM pending_statuses p USING messages m
WHERE m.channel_account_id = p.channel_account_id
  AND m.provider_message_id = p.provider_message_id
RETURNING p.channel_account_id, p.provider_message_id, p.state, p.at, p.error_code,
          p.error_title
""")

_EXPIRE = text("""
DELETE FROM pending_statuses WHERE received_at < now() - make_interval(secs => :keep)
""")


async def keep_if_unknown(session: AsyncSession, channel_id: int, status: StatusUpdate) -> None:
    """Keep a status that changed nothing because no message has its id (yet); a status that
    changed nothing because its message is further along already is dropped."""
    await session.execute(
        _KEEP,
        {
            "channel_id": channel_id,
            "provider_id": status.provider_message_id[:200],
            "state": status.state,
            "at": status.at,
            "code": (status.error_code or "")[:32] or None,
            "title": status.error_title,
        },
    )


def as_status(provider_message_id: str, row: Sequence[Any]) -> StatusUpdate:
    """(state, at, error_code, error_title) as kept -> the status again."""
    state, at, code, title = row
    return StatusUpdate(provider_message_id, state, at, code, title)


async def apply_kept(
    session: AsyncSession, channel: ChannelAccount, statuses: list[StatusUpdate]
) -> None:
    """In the order they happened at the provider; each only moves the state forward."""
    for status in sorted(statuses, key=lambda s: (s.at is None, s.at)):
        await apply_status(session, channel, status)


async def sweep(session: AsyncSession) -> int:
    """Applies kept statuses whose message is recorded now, drops old ones. Returns how many
    were applied."""
    rows = (await session.execute(_MATCHED)).all()
    for channel_id in {r[0] for r in rows}:
        channel = await session.get(ChannelAccount, channel_id)
        if channel is not None:
            mine = [as_status(r[1], r[2:]) for r in rows if r[0] == channel_id]
            await apply_kept(session, channel, mine)
    await session.execute(_EXPIRE, {"keep": KEEP_FOR.total_seconds()})
    return len(rows)


class PendingStatusSweeper(Periodic):
    def __init__(self, ctx: AppContext, interval: float = SWEEP_SECONDS):
        super().__init__(ctx, interval)

    async def round(self) -> None:
        async with self.ctx.sessions() as session:
            await sweep(session)
            await session.commit()
