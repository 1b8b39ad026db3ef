"""/api/v1/cadence-messages: the useful messages' templates, one per category and language
(admins; each change in the audit log). The feature is switched on per channel (channel
setting `cadence_messages: true`), the period per category (`message_cadence_days`), the
opt-out words in /api/v1/sales-settings."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.audit import service as audit
from app.contacts.models import Category
from app.core.deps import Session, client_ip
from app.core.errors import Conflict, Invalid, NotFound
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal
from app.sales import schemas
from app.sales.cadence_messages import check_text
from app.sales.models import CadenceTemplate

router = APIRouter(prefix="/api/v1/cadence-messages", tags=["sales"])

Admin = Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))]


async def _audit(
    session: Session,
    principal: Principal,
    request: Request,
    action: str,
    row_id: int,
    **details: Any,
) -> None:
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action=f"cadence_template.{action}",
        target_type="cadence_template",
        target_id=row_id,
        ip=client_ip(request),
        details=details,
    )


async def _get(session: Session, template_id: int) -> CadenceTemplate:
    row = await session.get(CadenceTemplate, template_id, with_for_update=True)
    if row is None:
        raise NotFound(f"Cadence template {template_id} not found")
    return row


@router.get("", response_model=list[schemas.CadenceTemplateRead])
async def list_templates(_: Admin, session: Session) -> list[CadenceTemplate]:
    rows = await session.scalars(
        select(CadenceTemplate).order_by(CadenceTemplate.category, CadenceTemplate.language)
    )
    return list(rows.all())


@router.post("", response_model=schemas.CadenceTemplateRead, status_code=201)
async def create_template(
    body: schemas.CadenceTemplateWrite, principal: Admin, request: Request, session: Session
) -> CadenceTemplate:
    """A category's message in one language ({first_name}, {name} filled in)."""
    if await session.get(Category, body.category) is None:
        raise Invalid(f"Unknown category {body.category!r}", "unknown_category")
    row = CadenceTemplate(**body.model_dump() | {"text": check_text(body.text)})
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise Conflict(
            f"Category {body.category!r} has a {body.language!r} template already",
            "template_exists",
        ) from None
    await _audit(session, principal, request, "create", row.id, **body.model_dump())
    await session.commit()
    return row


@router.patch("/{template_id}", response_model=schemas.CadenceTemplateRead)
async def update_template(
    template_id: int,
    body: schemas.CadenceTemplatePatch,
    principal: Admin,
    request: Request,
    session: Session,
) -> CadenceTemplate:
    row = await _get(session, template_id)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "text" in changes:
        check_text(changes["text"])
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    await _audit(session, principal, request, "update", row.id, **changes)
    await session.commit()
    await session.refresh(row)
    return row


@router.delete("/{template_id}", status_code=204)
async def delete_template(
    template_id: int, principal: Admin, request: Request, session: Session
) -> Response:
    row = await _get(session, template_id)
    await session.delete(row)
    await _audit(session, principal, request, "delete", template_id)
    await session.commit()
    return Response(status_code=204)
