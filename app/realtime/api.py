"""WS /api/v1/ws?token=<operator token>&after=<message id>: the operator's live feed."""

from fastapi import APIRouter, WebSocket

from app.core.errors import DomainError
from app.operators import service as operators_service
from app.operators.auth import operator_from_token
from app.realtime.ws import serve_operator

router = APIRouter(tags=["realtime"])


@router.websocket("/api/v1/ws")
async def operator_ws(websocket: WebSocket, token: str = "", after: int | None = None) -> None:
    ctx = websocket.app.state.ctx
    try:
        operator_id, version = operator_from_token(ctx.signing_key, token)
        async with ctx.sessions() as session:
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
