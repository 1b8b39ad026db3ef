"""One loop for the background jobs that run every few seconds (routing timers, chain
watchdogs, the cadence digest, the pending-status sweep): run a round, log a failure and
carry on (the next round retries), then wait the interval or until stopped."""

import asyncio
import contextlib
import logging

from app.core.context import AppContext


class Periodic:
    def __init__(self, ctx: AppContext, interval: float):
        self.ctx = ctx
        self.interval = interval
        self._stopping = asyncio.Event()
        self._log = logging.getLogger(type(self).__module__)

    def stop(self) -> None:
        self._stopping.set()

    async def round(self) -> None:
        raise NotImplementedError

    async def run_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                self._log.exception("%s failed; retrying", type(self).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)
