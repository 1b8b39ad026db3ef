"""Background workers of a process: outbox dispatchers, routing timers, the channel plugins'
own (whatever `ChannelPlugin.workers` gives, pollers for instance), the daily cadence digest,
the useful messages on cadence, the delivery-chain watchdogs, the sweep of early status
callbacks."""

import asyncio
import contextlib

import app.models  # noqa: F401  (every model and visibility rule, in a worker-only process too)
from app import plugins  # noqa: F401 - registers the channel plugins
from app.chains.tasks import ChainWatchdogs
from app.channels import registry
from app.channels.plugin import Worker
from app.core.context import AppContext
from app.delivery.dispatcher import Dispatcher
from app.delivery.pending_statuses import PendingStatusSweeper
from app.routing.tasks import RoutingTimers
from app.sales.tasks import CadenceMessages, SalesNotices
from app.touchpoints.tasks import CadenceDigest
from app.webhooks.sender import WebhookSender


class Workers:
    def __init__(self, ctx: AppContext):
        self.ctx = ctx
        self.dispatchers = [
            Dispatcher(ctx, name=f"dispatcher-{i}")
            for i in range(ctx.settings.dispatcher_concurrency)
        ]
        self.timers = RoutingTimers(ctx, interval=ctx.settings.routing_tick_seconds)
        self.channel_workers: list[tuple[str, Worker]] = [
            named for plugin in registry.all() for named in plugin.workers(ctx)
        ]
        self.digest = CadenceDigest(ctx)
        self.sales_notices = SalesNotices(ctx)
        self.cadence_messages = CadenceMessages(ctx)
        self.chain_watchdogs = ChainWatchdogs(ctx)
        self.pending_statuses = PendingStatusSweeper(ctx)
        self.webhooks = WebhookSender(ctx)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for d in self.dispatchers:
            self.ctx.bus.subscribe(d.on_events)
            self._tasks.append(asyncio.create_task(d.run_forever(), name=d.name))
        self._tasks.append(asyncio.create_task(self.timers.run_forever(), name="routing-timers"))
        for name, worker in self.channel_workers:
            self._tasks.append(asyncio.create_task(worker.run_forever(), name=name))
        self._tasks.append(asyncio.create_task(self.digest.run_forever(), name="cadence-digest"))
        self._tasks.append(
            asyncio.create_task(self.sales_notices.run_forever(), name="sales-notices")
        )
        self._tasks.append(
            asyncio.create_task(self.cadence_messages.run_forever(), name="cadence-messages")
        )
        self._tasks.append(
            asyncio.create_task(self.chain_watchdogs.run_forever(), name="chain-watchdogs")
        )
        self._tasks.append(
            asyncio.create_task(self.pending_statuses.run_forever(), name="pending-statuses")
        )
        self._tasks.append(asyncio.create_task(self.webhooks.run_forever(), name="webhooks"))

    async def stop(self) -> None:
        for d in self.dispatchers:
            d.stop()
        self.timers.stop()
        for _, worker in self.channel_workers:
            worker.stop()
        self.digest.stop()
        self.sales_notices.stop()
        self.cadence_messages.stop()
        self.chain_watchdogs.stop()
        self.pending_statuses.stop()
        self.webhooks.stop()
        # A dispatcher mid-batch finishes it (its rows are released either way).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), 10)
        for t in self._tasks:
            t.cancel()
