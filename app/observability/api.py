import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from app.core.deps import Ctx, Session
from app.core.errors import NotFound, Unauthorized
from app.core.metrics import OUTBOX_DEPTH
from app.delivery import service as delivery_service

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, ctx: Ctx) -> JSONResponse:
    try:
        async with ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    bus = "connected" if ctx.bus.connected.is_set() else "reconnecting"
    return JSONResponse({"status": "ok", "database": "ok", "bus": bus})


@router.get("/metrics")
async def metrics(request: Request, ctx: Ctx, session: Session) -> Response:
    """Prometheus metrics, for a scraper holding CHATCENTRE_METRICS_TOKEN
    (Authorization: Bearer ...); without that setting the route is off (404)."""
    expected = ctx.settings.metrics_token
    if expected is None:
        raise NotFound("Metrics are off: set CHATCENTRE_METRICS_TOKEN", "metrics_disabled")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.encode(), expected.get_secret_value().encode()
    ):
        raise Unauthorized("The metrics token is required", headers={"WWW-Authenticate": "Bearer"})
    OUTBOX_DEPTH.set(await delivery_service.queue_depth(session))
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
