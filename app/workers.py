"""Background workers of a process: the outbox dispatchers (more kinds will join them)."""

import asyncio
import contextlib

from app.core.context import AppContext
from app.delivery.dispatcher import Dispatcher


class Workers:
    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self.dispatchers = [
            Dispatcher(ctx, name=f"dispatcher-{i}")
            for i in range(ctx.settings.dispatcher_concurrency)
        ]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for d in self.dispatchers:
            self.ctx.bus.subscribe(d.on_events)
            self._tasks.append(asyncio.create_task(d.run_forever(), name=d.name))

    async def stop(self) -> None:
        for d in self.dispatchers:
            d.stop()
        # A dispatcher mid-batch finishes it (its rows are released either way).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 10)
        for t in self._tasks:
            t.cancel()
