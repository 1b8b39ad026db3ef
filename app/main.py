"""create_app(): the FastAPI application: the routers, and each channel plugin's routes,
middleware and bus listeners. The lifespan wires the database, the event bus, the real-time
hub and (unless disabled) the workers, the plugins' among them."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import app.models  # noqa: F401  (every model and visibility rule, before the first request)
from app import handlers, plugins
from app.analytics.api import router as analytics_router
from app.attachments.api import MULTIPART_OVERHEAD, UPLOAD_PATH
from app.attachments.api import router as attachments_router
from app.automation.api import router as automation_router
from app.bots.api import router as bots_router
from app.business_hours.api import router as business_hours_router
from app.canned.api import router as canned_router
from app.chains.api import public_router as tracking_router
from app.chains.api import router as chains_router
from app.channels import registry
from app.channels import service as channels_service
from app.channels.api import router as channels_router
from app.channels.api import types_router as channel_types_router
from app.config import Settings, get_settings
from app.console.api import router as console_router
from app.contacts.api import router as contacts_router
from app.core.after_answer import AfterAnswerMiddleware
from app.core.body_limit import BodyLimitMiddleware
from app.core.context import AppContext, build_context
from app.core.errors import install_error_handlers
from app.core.metrics import MetricsMiddleware
from app.core.shedding import SheddingMiddleware
from app.inbox.api import router as inbox_router
from app.inbox.saved_views import router as saved_views_router
from app.labels.api import router as labels_router
from app.observability.api import router as health_router
from app.operators.api import router as operators_router
from app.realtime.api import router as realtime_router
from app.realtime.hub import Hub
from app.realtime.wire import ProtocolMiddleware
from app.routing import presence
from app.routing.api import router as routing_router
from app.sales.api import router as sales_router
from app.sales.cadence_api import router as cadence_messages_router
from app.sales.settings_api import router as sales_settings_router
from app.search.api import router as search_router
from app.touchpoints.api import router as touchpoints_router
from app.webhooks.api import router as webhooks_router
from app.workers import Workers
from connectors import registry as connectors_registry


def create_app(settings: Settings | None = None, ctx: AppContext | None = None) -> FastAPI:
    """`ctx` lets a caller (tests, `serve` after migrating) hand over a ready context."""
    settings = settings or (ctx.settings if ctx else get_settings())
    handlers.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = ctx or build_context(settings)
        channels_service.forget_all()
        # Console opens and closes go through one tally per process: applied in batches,
        # so 1,000 consoles closing at once do not take the pool that serves ingest.
        tally = presence.ConsoleTally(context.sessions)
        tally.start()
        hub = Hub(context, on_console_open=tally.opened, on_console_close=tally.closed)
        hub.start()
        # The channels' listeners go first (a node forgets a channel changed elsewhere, a
        # widget a revoked visitor's token version), then the hub closes sockets.
        context.bus.subscribe(channels_service.cache_listener())
        for plugin in registry.all():
            for listener in plugin.bus_listeners(context):
                context.bus.subscribe(listener)
        context.bus.subscribe(hub.on_events)
        app.state.ctx = context
        app.state.hub = hub
        await context.bus.start()
        await context.warm_up()
        # What startup made (modules, routes, settings, the pool) lives as long as the
        # process: keep it out of the collector's full passes, which otherwise walk it
        # all and pause every request and WebSocket for 100-300 ms under load.
        gc.freeze()
        workers = Workers(context) if settings.run_workers else None
        if workers:
            await workers.start()
        try:
            yield
        finally:
            if workers:
                await workers.stop()
            await hub.stop()
            await tally.stop()  # the consoles the hub just closed go offline
            await connectors_registry.close_all()
            await context.close()

    app = FastAPI(
        title="chatcentre",
        version="0.1.0",
        description="Omnichannel chat centre: every connected channel in one inbox.",
        lifespan=lifespan,
        # The API documentation only when CHATCENTRE_DOCS_ENABLED is set.
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url="/redoc" if settings.docs_enabled else None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    install_error_handlers(app)
    plugins.configure(settings)
    wider = {UPLOAD_PATH: settings.attachment_max_bytes + MULTIPART_OVERHEAD}
    for plugin in registry.all():
        plugin.install(app, settings)
        wider |= plugin.wider_body_limits(settings)
    # Innermost: a request's follow-ups run after its answer, inside the shedding's count.
    app.add_middleware(AfterAnswerMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, wider=wider)
    app.add_middleware(MetricsMiddleware)
    # Outside the rest: an overloaded process answers 503 before doing any work.
    app.add_middleware(
        SheddingMiddleware,
        max_in_flight=settings.shed_max_in_flight,
        max_pool_wait_ms=settings.shed_max_pool_wait_ms,
        retry_after=settings.shed_retry_after_seconds,
    )
    trusted = [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]
    if trusted:
        # Outermost, so every part of the app sees the client the proxy saw. Only these
        # peers are believed: anyone else's X-Forwarded-For is ignored (rate limits and
        # the audit log use the peer address).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    # Outermost of all: it needs uvicorn's own `send`, before any middleware wraps it.
    app.add_middleware(ProtocolMiddleware)
    # The inbound paths first: routes are matched in order, and these take most requests.
    app.include_router(health_router)
    for plugin in registry.all():
        for inbound in plugin.routers():
            app.include_router(inbound)
    for router in (
        operators_router,
        channels_router,
        channel_types_router,
        inbox_router,
        attachments_router,
        contacts_router,
        labels_router,
        canned_router,
        saved_views_router,
        search_router,
        touchpoints_router,
        analytics_router,
        sales_router,
        cadence_messages_router,
        sales_settings_router,
        routing_router,
        business_hours_router,
        realtime_router,
        console_router,
        chains_router,
        tracking_router,
        automation_router,
        webhooks_router,
        bots_router,
    ):
        app.include_router(router)
    return app
