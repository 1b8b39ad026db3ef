"""The daily sales notices (each manager's leads dropped before the seventh touch, and their
base clients due a review, pushed to their console) and the useful messages on cadence."""

from datetime import UTC, datetime

from app.core.context import AppContext
from app.core.periodic import Periodic
from app.sales import cadence_messages, seven


class SalesNotices(Periodic):
    def __init__(self, ctx: AppContext, interval: float = 60.0):
        super().__init__(ctx, interval)

    async def round(self) -> None:
        zone = self.ctx.settings.default_timezone
        async with self.ctx.sessions() as session:
            await seven.notify_dropped_leads(session, seven.today_in(zone), zone)
            await session.commit()


class CadenceMessages(Periodic):
    """The useful messages on cadence: each round queues what is due (every process may run
    it; a client's period is claimed by one, app/sales/cadence_messages.py)."""

    def __init__(self, ctx: AppContext, interval: float = 60.0):
        super().__init__(ctx, interval)

    async def tick(self, now: datetime | None = None) -> int:
        return await cadence_messages.send_due(
            self.ctx.sessions, now or datetime.now(UTC), self.ctx.settings.default_timezone
        )

    async def round(self) -> None:
        await self.tick()
