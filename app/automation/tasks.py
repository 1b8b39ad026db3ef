"""The automation worker: the rules for new stored events, then the no-reply timers."""

from app.automation import engine
from app.core.context import AppContext
from app.core.periodic import Periodic
from app.events import store


class AutomationRules(Periodic):
    def __init__(self, ctx: AppContext, interval: float):
        super().__init__(ctx, interval)
        self._gaps: store.Gaps = {}  # event ids that may still commit (events.store)

    async def round(self) -> None:
        while await engine.drain(self.ctx, self._gaps) > 0:  # catch up before the timers
            pass
        await engine.fire_no_reply(self.ctx)
