"""Prometheus metrics. Route labels use the path template, so ids never explode cardinality."""

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "chatcentre_http_requests_total", "HTTP requests", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "chatcentre_http_request_seconds", "HTTP request latency", ["method", "route"]
)
INGESTED = Counter("chatcentre_ingested_messages_total", "Inbound messages stored", ["channel"])
INGEST_DUPLICATES = Counter(
    "chatcentre_ingest_duplicates_total", "Inbound messages seen before (no-ops)", ["channel"]
)
OUTBOX_DEPTH = Gauge("chatcentre_outbox_queue_depth", "Messages waiting to be sent")
SENT = Counter("chatcentre_messages_sent_total", "Outbound messages sent", ["channel"])
SEND_FAILURES = Counter(
    "chatcentre_send_failures_total", "Failed send attempts", ["channel", "kind"]
)
SHED = Counter("chatcentre_shed_requests_total", "Requests answered 503 for overload", ["reason"])
WEBSOCKETS = Gauge("chatcentre_websockets", "Open WebSockets", ["kind"])
FANOUT_DELIVERIES = Counter(
    "chatcentre_fanout_deliveries_total",
    "Sockets' shares of fan-out passes: written straight to the transport (direct), or "
    "queued for the socket's writer (busy, slow, or not uvicorn's sans-I/O protocol)",
    ["path"],
)


def _route_of(scope: Scope) -> str:
    # The router records the matched route in the scope; scanning is the fallback.
    matched = scope.get("route")
    if matched is not None and hasattr(matched, "path"):
        return str(matched.path)
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", []):
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "other"))
    return "unmatched"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = _route_of(scope)
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - start)
