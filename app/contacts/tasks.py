"""The daily cadence digest: each morning every manager is told who is due and overdue."""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from app.contacts import service as contacts_service
from app.core.context import AppContext

log = logging.getLogger(__name__)


class CadenceDigest:
    def __init__(self, ctx: AppContext, interval: float = 60.0):
        self.ctx = ctx
        self.interval = interval
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                async with self.ctx.sessions() as session:
                    await contacts_service.send_daily_digest(
                        session, datetime.now(UTC).date(), self.ctx.settings.default_timezone
                    )
                    await session.commit()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cadence digest failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)
