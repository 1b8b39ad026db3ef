"""The daily sales notices: each manager's leads dropped before the seventh touch, and
their base clients due a review, pushed to their console."""

from app.core.context import AppContext
from app.core.periodic import Periodic
from app.sales import seven


class SalesNotices(Periodic):
    def __init__(self, ctx: AppContext, interval: float = 60.0):
        super().__init__(ctx, interval)

    async def round(self) -> None:
        zone = self.ctx.settings.default_timezone
        async with self.ctx.sessions() as session:
            await seven.notify_dropped_leads(session, seven.today_in(zone), zone)
            await session.commit()
