"""/api/v1/sales-settings and /api/v1/sales-targets: what the head of sales' reports
measure against. Changes are admins' (a target also its manager's team lead) and audited."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.audit import service as audit
from app.core.deps import Session, client_ip
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal
from app.sales import schemas
from app.sales import settings as settings_service

router = APIRouter(prefix="/api/v1", tags=["sales"])

Reader = Annotated[Principal, Depends(require(scopes.TOUCHPOINTS_READ))]
Admin = Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))]
Writer = Annotated[Principal, Depends(require(scopes.CONTACTS_WRITE))]


@router.get("/sales-settings", response_model=schemas.SettingsRead)
async def get_settings(_: Reader, session: Session) -> schemas.SettingsRead:
    return schemas.SettingsRead.model_validate(await settings_service.current(session))


@router.patch("/sales-settings", response_model=schemas.SettingsRead)
async def update_settings(
    body: schemas.SettingsUpdate, principal: Admin, request: Request, session: Session
) -> schemas.SettingsRead:
    row, changes = await settings_service.update(session, body)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="sales_settings.update",
        target_type="sales_settings",
        target_id=None,
        ip=client_ip(request),
        details=changes,
    )
    await session.commit()
    return schemas.SettingsRead.model_validate(row)


@router.put("/sales-targets/{operator_id}", response_model=schemas.TargetWrite)
async def set_target(
    operator_id: int,
    body: schemas.TargetWrite,
    principal: Writer,
    request: Request,
    session: Session,
) -> schemas.TargetWrite:
    """The deals a manager is to close per week: admins, or the manager's team lead."""
    await settings_service.set_target(session, principal, operator_id, body.deals_per_week)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="sales_target.set",
        target_type="operator",
        target_id=operator_id,
        ip=client_ip(request),
        details={"deals_per_week": body.deals_per_week},
    )
    await session.commit()
    return body
