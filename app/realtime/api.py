"""WS /api/v1/ws?ticket=<ticket>&after=<message id>: the operator's live feed.

The ticket comes from POST /api/v1/ws-ticket (operator bearer), works once and for
ws_ticket_ttl_seconds. ?token=<operator token> still works during a deprecation period
(see README), but puts a reusable credential in a URL."""

from typing import Annotated

from fastapi import APIRouter, Depends, WebSocket

from app.core.deps import Ctx, Session
from app.core.errors import DomainError, Forbidden
from app.operators import service as operators_service
from app.operators.auth import current_principal, operator_from_token
from app.operators.service import Principal
from app.realtime import tickets
from app.realtime.schemas import WsTicketRead
from app.realtime.ws import serve_operator

router = APIRouter(tags=["realtime"])


@router.post("/api/v1/ws-ticket", response_model=WsTicketRead, status_code=201)
async def operator_ws_ticket(
    principal: Annotated[Principal, Depends(current_principal)], ctx: Ctx, session: Session
) -> WsTicketRead:
    """A single-use ticket for WS /api/v1/ws?ticket=...: get one right before each
    connect or reconnect."""
    if principal.operator_id is None:
        raise Forbidden("An API key is not an operator", "operator_only")
    ttl = ctx.settings.ws_ticket_ttl_seconds
    claims = {"sub": principal.operator_id, "ver": principal.token_version}
    ticket = await tickets.issue(session, tickets.OPERATOR, claims, ttl)
    await session.commit()
    return WsTicketRead(ticket=ticket, expires_in=ttl)


@router.websocket("/api/v1/ws")
async def operator_ws(
    websocket: WebSocket, ticket: str = "", token: str = "", after: int | None = None
) -> None:
    ctx = websocket.app.state.ctx
    try:
        async with ctx.sessions() as session:
            if ticket or not token:
                claims = await tickets.redeem(session, ticket, tickets.OPERATOR)
                await session.commit()  # used up, whatever follows
                operator_id, version = int(claims["sub"]), claims.get("ver")
            else:  # deprecated: a reusable token in the URL
                operator_id, version = operator_from_token(ctx.signing_key, token)
            principal = await operators_service.principal_for_operator(
                session, operator_id, version
            )
    except DomainError as exc:
        # Accept first: a close code before the handshake is lost (the client only sees an
        # HTTP 403), and browsers cannot read HTTP statuses of failed handshakes at all.
        await websocket.accept()
        await websocket.close(code=4401, reason=exc.code)
        return
    await serve_operator(websocket, ctx, principal, after)
