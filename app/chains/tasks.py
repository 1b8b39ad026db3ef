"""The chain watchdog: due timers (chain_watchdogs) are claimed with FOR UPDATE SKIP LOCKED,
acted on and marked done in one transaction, so a restart or a second node never repeats
one. The clock is a parameter: tests pass their own `now`."""

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.chains import service as chains_service
from app.chains.models import ChainWatchdog, Order
from app.core.context import AppContext
from app.core.periodic import Periodic

# The order is locked with its timer, and both are skipped if either is busy: an event being
# posted for the order right now holds its lock, and we never wait on it (no deadlock).
_DUE = text("""
SELECT w.id, w.order_id FROM chain_watchdogs w JOIN orders o ON o.id = w.order_id
WHERE w.done_at IS NULL AND w.due_at <= :now
ORDER BY w.due_at, w.id LIMIT :limit
FOR UPDATE OF w, o SKIP LOCKED
""")

INTERVAL_SECONDS = 30.0


async def run_due(
    session: AsyncSession, *, now: datetime, public_url: str, limit: int = 100
) -> int:
    """Fire every due watchdog (up to `limit`). Returns how many fired."""
    rows = (await session.execute(_DUE, {"now": now, "limit": limit})).all()
    for watchdog_id, order_id in rows:
        watchdog = await session.get(ChainWatchdog, watchdog_id)
        order = await session.get(Order, order_id)
        assert watchdog is not None and order is not None
        watchdog.done_at = now
        if watchdog.kind == chains_service.PROMISED_DATE:
            await chains_service.promise_broken(session, order, public_url, now)
        await session.flush()
    return len(rows)


class ChainWatchdogs(Periodic):
    def __init__(self, ctx: AppContext, interval: float = INTERVAL_SECONDS):
        super().__init__(ctx, interval)

    async def tick(self, now: datetime | None = None) -> int:
        fired = 0
        while True:
            async with self.ctx.sessions() as session:
                n = await run_due(
                    session,
                    now=now or datetime.now(UTC),
                    public_url=self.ctx.settings.public_url,
                )
                await session.commit()
            fired += n
            if n < 100:
                return fired

    async def round(self) -> None:
        await self.tick()
