"""The label catalogue: everyone reads it, admins manage it (in the audit log). Putting
labels on a conversation or a contact is the inbox's and the contacts' routes."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.audit import service as audit
from app.core.deps import Session, client_ip
from app.labels import service as labels_service
from app.labels.schemas import LabelCreate, LabelRead, LabelUpdate
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal

router = APIRouter(prefix="/api/v1", tags=["labels"])

Reader = Annotated[Principal, Depends(require(scopes.CONVERSATIONS_READ))]
Admin = Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))]


@router.get("/labels", response_model=list[LabelRead])
async def list_labels(_: Reader, session: Session) -> list[LabelRead]:
    return [LabelRead.model_validate(label) for label in await labels_service.list_labels(session)]


@router.post("/labels", response_model=LabelRead, status_code=201)
async def create_label(
    body: LabelCreate, principal: Admin, request: Request, session: Session
) -> LabelRead:
    """409 label_exists when a label of that name (ignoring case) exists."""
    label = await labels_service.create_label(session, body)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="label.create",
        target_type="label",
        target_id=label.id,
        ip=client_ip(request),
        details={"name": label.name, "colour": label.colour},
    )
    read = LabelRead.model_validate(label)
    await session.commit()
    return read


@router.patch("/labels/{label_id}", response_model=LabelRead)
async def update_label(
    label_id: int, body: LabelUpdate, principal: Admin, request: Request, session: Session
) -> LabelRead:
    """A rename shows at once on every conversation and contact carrying the label."""
    label, changes = await labels_service.update_label(session, label_id, body)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="label.update",
        target_type="label",
        target_id=label.id,
        ip=client_ip(request),
        details=changes,
    )
    read = LabelRead.model_validate(label)
    await session.commit()
    return read


@router.delete("/labels/{label_id}", status_code=204)
async def delete_label(label_id: int, principal: Admin, request: Request, session: Session) -> None:
    """Also takes the label off every conversation and contact."""
    label = await labels_service.delete_label(session, label_id)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="label.delete",
        target_type="label",
        target_id=label_id,
        ip=client_ip(request),
        details={"name": label.name},
    )
    await session.commit()
