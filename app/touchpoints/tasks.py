"""The daily cadence digest: each morning every manager is told who is due and overdue."""

from datetime import UTC, datetime

from app.core.context import AppContext
from app.core.periodic import Periodic
from app.touchpoints import cadence


class CadenceDigest(Periodic):
    def __init__(self, ctx: AppContext, interval: float = 60.0):
        super().__init__(ctx, interval)

    async def round(self) -> None:
        async with self.ctx.sessions() as session:
            await cadence.send_daily_digest(
                session, datetime.now(UTC).date(), self.ctx.settings.default_timezone
            )
            await session.commit()
