"""The automation worker: the rules for new stored events, then the no-reply timers."""

from app.automation import engine
from app.core.periodic import Periodic


class AutomationRules(Periodic):
    async def round(self) -> None:
        while await engine.drain(self.ctx) > 0:  # catch up before the timers
            pass
        await engine.fire_no_reply(self.ctx)
