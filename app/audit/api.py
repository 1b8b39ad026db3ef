from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from app.audit import service as audit_service
from app.core.deps import Session
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_kind: str
    actor_id: int | None
    action: str
    target_type: str
    target_id: int | None
    ip: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_cursor: int | None = Field(description="Pass as `before` for older entries")


@router.get("/audit-log", response_model=AuditPage)
async def audit_log(
    _: Annotated[Principal, Depends(require(scopes.AUDIT_READ))],
    session: Session,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPage:
    """Admin actions, newest first: operator, team, channel and API key changes, logins
    locked out. Secrets are never recorded, only the names of what changed."""
    rows = await audit_service.list_entries(session, before=before, limit=limit, action=action)
    items = [AuditEntryRead.model_validate(r) for r in rows]
    return AuditPage(items=items, next_cursor=items[-1].id if len(items) == limit else None)
