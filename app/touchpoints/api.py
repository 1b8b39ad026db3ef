from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.core.deps import Session
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal
from app.touchpoints import service as touchpoints_service
from app.touchpoints.schemas import TouchpointPage, TouchpointRead

router = APIRouter(prefix="/api/v1/touchpoints", tags=["touchpoints"])


@router.get("", response_model=TouchpointPage)
async def list_touchpoints(
    _: Annotated[Principal, Depends(require(scopes.TOUCHPOINTS_READ))],
    session: Session,
    contact_id: int | None = None,
    conversation_id: int | None = None,
    before: Annotated[int | None, Query(ge=0, description="cursor: touchpoint id")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TouchpointPage:
    rows = await touchpoints_service.list_touchpoints(
        session,
        contact_id=contact_id,
        conversation_id=conversation_id,
        before_id=before,
        limit=limit + 1,
    )
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return TouchpointPage(
        items=[TouchpointRead.model_validate(t) for t in rows[:limit]], next_cursor=next_cursor
    )
