"""/api/v1/webhooks (admins): endpoints, their secret (shown at creation and on rotation
only), their deliveries and redelivery. Every change is in the audit log."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from app.audit import service as audit
from app.core.deps import Ctx, Session, client_ip
from app.core.errors import Invalid
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal
from app.webhooks import service
from app.webhooks.events import SUBSCRIBABLE
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import (
    DeliveryRead,
    WebhookCreate,
    WebhookEventRead,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
)
from app.webhooks.transport import UrlRefused, allowed_networks, check_url_shape

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

# Integrations are configured like channels: by whoever may change channels (admins).
Admin = Annotated[Principal, Depends(require(scopes.CHANNELS_WRITE))]


async def _audit(
    session: Session,
    principal: Principal,
    request: Request,
    action: str,
    endpoint_id: int,
    details: dict[str, object],
) -> None:
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action=f"webhook.{action}",
        target_type="webhook",
        target_id=endpoint_id,
        ip=client_ip(request),
        details=details,
    )


def _check_url(ctx: Ctx, url: str) -> None:
    try:
        check_url_shape(url, allowed_networks(ctx.settings.webhook_allowed_networks))
    except UrlRefused as exc:
        raise Invalid(str(exc), code="url_not_allowed") from exc


# Before /webhooks/{webhook_id}, which would take "events" for an id.
@router.get("/webhooks/events", response_model=list[WebhookEventRead])
async def list_events(_: Admin) -> list[WebhookEventRead]:
    """The events an endpoint can subscribe to, in the order the console lists them."""
    return [WebhookEventRead(name=name) for name in SUBSCRIBABLE]


@router.get("/webhooks", response_model=list[WebhookRead])
async def list_webhooks(_: Admin, session: Session) -> list[WebhookRead]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.kind == service.WEBHOOK)
        .order_by(WebhookEndpoint.id)
    )
    return [WebhookRead.model_validate(r) for r in rows]


@router.post("/webhooks", response_model=WebhookWithSecret, status_code=201)
async def create_webhook(
    body: WebhookCreate, principal: Admin, request: Request, session: Session, ctx: Ctx
) -> WebhookWithSecret:
    """The answer holds the signing secret: the only time it is shown (rotate for a new
    one). 422 url_not_allowed: not http(s), or a private address not allowed."""
    _check_url(ctx, body.url)
    secret = service.new_secret()
    row = WebhookEndpoint(
        url=body.url,
        events=list(dict.fromkeys(body.events)),
        description=body.description,
        is_active=body.is_active,
        secret={"secret": secret},
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    await _audit(
        session, principal, request, "create", row.id, {"url": row.url, "events": row.events}
    )
    out = WebhookWithSecret(**WebhookRead.model_validate(row).model_dump(), secret=secret)
    await session.commit()
    return out


@router.get("/webhooks/{webhook_id}", response_model=WebhookRead)
async def get_webhook(webhook_id: int, _: Admin, session: Session) -> WebhookRead:
    return WebhookRead.model_validate(await service.get_endpoint(session, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=WebhookRead)
async def update_webhook(
    webhook_id: int,
    body: WebhookUpdate,
    principal: Admin,
    request: Request,
    session: Session,
    ctx: Ctx,
) -> WebhookRead:
    """Turning an endpoint back on clears its failure record (and the disabled notice)."""
    row = await service.get_endpoint(session, webhook_id)
    changes = body.model_dump(exclude_unset=True)
    if body.url is not None:
        _check_url(ctx, body.url)
    if changes.get("events") is not None:
        changes["events"] = list(dict.fromkeys(changes["events"]))
    for key, value in changes.items():
        if value is not None:
            setattr(row, key, value)
    if body.is_active:
        row.failing_since = None
        row.disabled_reason = None
    await _audit(session, principal, request, "update", row.id, changes)
    await session.flush()
    await session.refresh(row)
    out = WebhookRead.model_validate(row)
    await session.commit()
    return out


@router.delete("/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(
    webhook_id: int, principal: Admin, request: Request, session: Session
) -> None:
    row = await service.get_endpoint(session, webhook_id)
    await _audit(session, principal, request, "delete", row.id, {"url": row.url})
    await service.delete_endpoint(session, row)
    await session.commit()


@router.post("/webhooks/{webhook_id}/rotate-secret", response_model=WebhookWithSecret)
async def rotate_secret(
    webhook_id: int, principal: Admin, request: Request, session: Session
) -> WebhookWithSecret:
    """A new signing secret, shown in this answer only; deliveries from now on use it."""
    row = await service.get_endpoint(session, webhook_id)
    secret = service.new_secret()
    row.secret = {"secret": secret}
    await _audit(session, principal, request, "rotate_secret", row.id, {"secret": "rotated"})
    out = WebhookWithSecret(**WebhookRead.model_validate(row).model_dump(), secret=secret)
    await session.commit()
    return out


@router.get("/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryRead])
async def list_deliveries(
    webhook_id: int,
    _: Admin,
    session: Session,
    status: DeliveryStatus | None = None,
    before: Annotated[int | None, Query(description="deliveries older than this id")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DeliveryRead]:
    """Newest first."""
    await service.get_endpoint(session, webhook_id)
    q = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == webhook_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status is not None:
        q = q.where(WebhookDelivery.status == status)
    if before is not None:
        q = q.where(WebhookDelivery.id < before)
    return [_delivery(d) for d in await session.scalars(q)]


def _delivery(d: WebhookDelivery) -> DeliveryRead:
    out = DeliveryRead.model_validate(d)
    if d.status != DeliveryStatus.pending:
        out.next_attempt_at = None
    return out


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryRead
)
async def redeliver(
    webhook_id: int,
    delivery_id: int,
    principal: Admin,
    request: Request,
    session: Session,
    ctx: Ctx,
) -> DeliveryRead:
    """Send it again now (same webhook-id, so the receiver can tell it is the same)."""
    d = await service.redeliver(session, webhook_id, delivery_id, ctx.settings)
    await _audit(session, principal, request, "redeliver", webhook_id, {"delivery_id": d.id})
    await session.flush()
    await session.refresh(d)
    out = _delivery(d)
    await session.commit()
    return out
