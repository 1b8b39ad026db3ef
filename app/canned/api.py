"""/api/v1/canned-responses: saved replies by short code, and their rendering for a
conversation (the composer's `/` picker inserts the rendered text)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from app.audit import service as audit
from app.canned import service as canned_service
from app.canned import variables
from app.canned.models import CannedResponse, CannedScope
from app.canned.schemas import (
    CannedCreate,
    CannedRead,
    CannedUpdate,
    Rendered,
    RenderRequest,
    VariableRead,
)
from app.core.deps import Session, client_ip
from app.inbox import queries as inbox_queries
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal

router = APIRouter(prefix="/api/v1", tags=["canned responses"])

Reader = Annotated[Principal, Depends(require(scopes.CONVERSATIONS_READ))]
Writer = Annotated[Principal, Depends(require(scopes.CONVERSATIONS_WRITE))]


async def _audit(
    session: Session,
    principal: Principal,
    request: Request,
    action: str,
    row: CannedResponse,
    details: dict[str, object],
) -> None:
    """Changes to texts others use (a team's, the shared ones) are in the audit log."""
    if row.scope == CannedScope.personal:
        return
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action=f"canned_response.{action}",
        target_type="canned_response",
        target_id=row.id,
        ip=client_ip(request),
        details={"scope": row.scope, "team_id": row.team_id, **details},
    )


@router.get("/canned-responses", response_model=list[CannedRead])
async def list_canned(
    principal: Reader,
    session: Session,
    q: Annotated[
        str | None, Query(max_length=100, description="the code's start or part of the text")
    ] = None,
    scope: CannedScope | None = None,
) -> list[CannedRead]:
    """The caller's own, their teams' and the shared ones, by short code (at most 500)."""
    rows = await canned_service.list_visible(session, principal, q=q, scope=scope)
    return [CannedRead.model_validate(r) for r in rows]


@router.get("/canned-responses/variables", response_model=list[VariableRead])
async def list_variables(_: Reader) -> list[VariableRead]:
    return [VariableRead(name=n, description=d) for n, d in variables.VARIABLES.items()]


@router.post("/canned-responses", response_model=CannedRead, status_code=201)
async def create_canned(
    body: CannedCreate, principal: Writer, request: Request, session: Session
) -> CannedRead:
    """422 unknown_variable names a variable that does not exist; 409 short_code_taken."""
    row = await canned_service.create(session, principal, body)
    await _audit(session, principal, request, "create", row, {"short_code": row.short_code})
    read = CannedRead.model_validate(row)
    await session.commit()
    return read


@router.get("/canned-responses/{canned_id}", response_model=CannedRead)
async def get_canned(canned_id: int, principal: Reader, session: Session) -> CannedRead:
    return CannedRead.model_validate(
        await canned_service.get_visible(session, principal, canned_id)
    )


@router.patch("/canned-responses/{canned_id}", response_model=CannedRead)
async def update_canned(
    canned_id: int, body: CannedUpdate, principal: Writer, request: Request, session: Session
) -> CannedRead:
    row, changes = await canned_service.update(session, principal, canned_id, body)
    await _audit(session, principal, request, "update", row, dict(changes))
    read = CannedRead.model_validate(row)
    await session.commit()
    return read


@router.delete("/canned-responses/{canned_id}", status_code=204)
async def delete_canned(
    canned_id: int, principal: Writer, request: Request, session: Session
) -> None:
    row = await canned_service.delete(session, principal, canned_id)
    await _audit(session, principal, request, "delete", row, {"short_code": row.short_code})
    await session.commit()


@router.post("/canned-responses/{canned_id}/render", response_model=Rendered)
async def render_canned(
    canned_id: int, body: RenderRequest, principal: Reader, session: Session
) -> Rendered:
    """The text with its variables filled in for the conversation, as the caller writes
    (an API key: as the conversation's assignee). Both must be the caller's to see."""
    row = await canned_service.get_visible(session, principal, canned_id)
    await inbox_queries.get_conversation(session, principal, body.conversation_id)
    text = await canned_service.render(
        session, row, body.conversation_id, operator_id=principal.operator_id
    )
    return Rendered(text=text)
