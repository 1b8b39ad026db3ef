from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import HTMLResponse

from app.chains import service as chains_service
from app.chains.models import Order
from app.chains.schemas import (
    ChainTemplateRead,
    ChainTemplateWrite,
    EventResult,
    OrderEventCreate,
    OrderEventRead,
    OrderPut,
    OrderRead,
)
from app.chains.tracking import render_page
from app.contacts.models import Contact
from app.core.deps import Ctx, Session, client_ip
from app.core.html import HTML_HEADERS
from app.operators import scopes, visibility
from app.operators.auth import require
from app.operators.service import Principal

router = APIRouter(tags=["orders"])
public_router = APIRouter(tags=["tracking"])

ExternalId = Annotated[str, Path(min_length=1, max_length=200)]


async def _read(ctx: Ctx, session: Session, order: Order) -> OrderRead:
    events = await chains_service.events_of(session, order.id)
    return OrderRead(
        external_id=order.external_id,
        contact_id=order.contact_id,
        status=order.status,
        language=order.language,
        first_name=order.first_name,
        items=order.items,
        amount=order.amount,
        promised_date=order.promised_date,
        flagged=order.flagged,
        flag_reason=order.flag_reason,
        tracking_url=chains_service.tracking_url(ctx.settings.public_url, order),
        created_at=order.created_at,
        updated_at=order.updated_at,
        events=[OrderEventRead.model_validate(e) for e in events],
    )


@router.put("/api/v1/orders/{external_id}", response_model=OrderRead)
async def put_order(
    external_id: ExternalId,
    body: OrderPut,
    _: Annotated[Principal, Depends(require(scopes.ORDERS_WRITE))],
    ctx: Ctx,
    session: Session,
    response: Response,
) -> OrderRead:
    """Create or update an order (201 when created)."""
    order, created = await chains_service.put_order(session, external_id, body)
    await session.commit()
    response.status_code = 201 if created else 200
    return await _read(ctx, session, order)


@router.get("/api/v1/orders/{external_id}", response_model=OrderRead)
async def get_order(
    external_id: ExternalId,
    principal: Annotated[Principal, Depends(require(scopes.ORDERS_READ))],
    ctx: Ctx,
    session: Session,
) -> OrderRead:
    """An order of a client the caller sees (operators: app/operators/visibility.py)."""
    order = await chains_service.get_order(session, external_id)
    await visibility.require(session, principal, Contact, order.contact_id)
    return await _read(ctx, session, order)


@router.post("/api/v1/orders/{external_id}/events", response_model=EventResult)
async def post_event(
    external_id: ExternalId,
    body: OrderEventCreate,
    _: Annotated[Principal, Depends(require(scopes.ORDERS_WRITE))],
    ctx: Ctx,
    session: Session,
) -> EventResult:
    """Record a status event; the same event_id again answers exactly as the first time."""
    result = await chains_service.post_event(
        session, external_id, body, public_url=ctx.settings.public_url
    )
    await session.commit()
    return EventResult.model_validate(result)


@router.get("/api/v1/chain-templates", response_model=list[ChainTemplateRead])
async def list_templates(
    _: Annotated[Principal, Depends(require(scopes.ORDERS_READ))], session: Session
) -> list[ChainTemplateRead]:
    return [
        ChainTemplateRead.model_validate(t) for t in await chains_service.list_templates(session)
    ]


@router.put("/api/v1/chain-templates/{status}/{language}", response_model=ChainTemplateRead)
async def put_template(
    status: str,
    language: str,
    body: ChainTemplateWrite,
    _: Annotated[Principal, Depends(require(scopes.ORDERS_WRITE))],
    session: Session,
) -> ChainTemplateRead:
    template = await chains_service.put_template(session, status, language, body)
    await session.commit()
    return ChainTemplateRead.model_validate(template)


@public_router.get("/track/{token}", response_class=HTMLResponse)
async def tracking_page(
    token: Annotated[str, Path(max_length=100)], request: Request, ctx: Ctx, session: Session
) -> HTMLResponse:
    """Public, no login: the token is the secret. Rate-limited per IP against guessing."""
    await ctx.limiter.hit(ctx.settings.rate_limit_public, "track-ip", client_ip(request))
    order = await chains_service.by_tracking_token(session, token)
    events = await chains_service.events_of(session, order.id)
    return HTMLResponse(
        render_page(order, events),
        headers=HTML_HEADERS | {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
    )
