from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from app.audit import service as audit
from app.contacts import service as contacts_service
from app.contacts.models import Contact
from app.contacts.schemas import (
    CategoryRead,
    CategoryWrite,
    ContactDetail,
    ContactPage,
    ContactRead,
    ContactUpdate,
    IdentityRead,
    PriorityLevelRead,
    PriorityLevelUpdate,
)
from app.core.deps import Session, client_ip
from app.labels import service as labels_service
from app.labels.schemas import LabelList, LabelNames
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal

router = APIRouter(prefix="/api/v1", tags=["contacts"])

ContactsReader = Annotated[Principal, Depends(require(scopes.CONTACTS_READ))]
ContactsWriter = Annotated[Principal, Depends(require(scopes.CONTACTS_WRITE))]


@router.get("/contacts", response_model=ContactPage)
async def list_contacts(
    principal: ContactsReader,
    session: Session,
    q: Annotated[str | None, Query(max_length=200, description="name, email or phone")] = None,
    label: Annotated[
        str | None, Query(max_length=50, description="only those carrying this label")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> ContactPage:
    rows, next_cursor = await contacts_service.list_contacts(
        session, principal, q=q, cursor=cursor, limit=limit, label=label
    )
    names = await labels_service.names_for(session, "contact", [c.id for c in rows])
    return ContactPage(items=[_read(c, names.get(c.id, [])) for c in rows], next_cursor=next_cursor)


def _read(contact: Contact, label_names: list[str]) -> ContactRead:
    return ContactRead.model_validate(contact).model_copy(update={"labels": label_names})


async def _detail(session: Session, principal: Principal, contact_id: int) -> ContactDetail:
    contact = await contacts_service.get_contact(session, principal, contact_id)
    identities = await contacts_service.identities_of(session, contact_id)
    names = await labels_service.names_of(session, "contact", contact_id)
    return ContactDetail(
        **_read(contact, names).model_dump(),
        identities=[IdentityRead.model_validate(i) for i in identities],
    )


@router.get("/contacts/{contact_id}", response_model=ContactDetail)
async def get_contact(
    contact_id: int, principal: ContactsReader, session: Session
) -> ContactDetail:
    return await _detail(session, principal, contact_id)


@router.patch("/contacts/{contact_id}", response_model=ContactDetail)
async def update_contact(
    contact_id: int,
    body: ContactUpdate,
    principal: ContactsWriter,
    request: Request,
    session: Session,
) -> ContactDetail:
    """Edit the client card. A stage change is a touchpoint; becoming a customer records the
    touch number at which it happened. Opting the client out of automated messages (or back
    in) is in the audit log."""
    await contacts_service.update_contact(session, principal, contact_id, body)
    if body.automated_opt_out is not None:
        await audit.record(
            session,
            actor_kind=principal.kind,
            actor_id=principal.id,
            action="contact.automated_opt_out",
            target_type="contact",
            target_id=contact_id,
            ip=client_ip(request),
            details={"opted_out": body.automated_opt_out},
        )
    await session.commit()
    return await _detail(session, principal, contact_id)


@router.get("/contacts/{contact_id}/labels", response_model=LabelNames)
async def get_labels(contact_id: int, principal: ContactsReader, session: Session) -> LabelNames:
    await contacts_service.get_contact(session, principal, contact_id)
    return LabelNames(labels=await labels_service.names_of(session, "contact", contact_id))


@router.post("/contacts/{contact_id}/labels", response_model=LabelNames)
async def set_labels(
    contact_id: int, body: LabelList, principal: ContactsWriter, session: Session
) -> LabelNames:
    """The contact carries exactly these labels afterwards (send the whole list).
    422 unknown_label names a label nobody created."""
    await contacts_service.get_contact(session, principal, contact_id, lock=True)
    names = await labels_service.set_labels(
        session, "contact", contact_id, body.labels, by=principal.operator_id
    )
    await session.commit()
    return LabelNames(labels=names)


@router.get("/categories", response_model=list[CategoryRead])
async def list_categories(_: ContactsReader, session: Session) -> list[CategoryRead]:
    return [CategoryRead.model_validate(c) for c in await contacts_service.list_categories(session)]


@router.put("/categories/{code}", response_model=CategoryRead)
async def put_category(
    code: str,
    body: CategoryWrite,
    _: Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))],
    session: Session,
) -> CategoryRead:
    category = await contacts_service.put_category(session, code, body)
    await session.commit()
    return CategoryRead.model_validate(category)


@router.delete("/categories/{code}", status_code=204)
async def delete_category(
    code: str,
    _: Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))],
    session: Session,
    move_to: Annotated[
        str | None,
        Query(max_length=16, description="move the category's contacts here, then delete"),
    ] = None,
) -> None:
    """409 category_in_use (details.contacts: how many) while contacts use it, unless
    move_to names the category they move to."""
    await contacts_service.delete_category(session, code, move_to)
    await session.commit()


@router.get("/priority-levels", response_model=list[PriorityLevelRead])
async def list_priority_levels(_: ContactsReader, session: Session) -> list[PriorityLevelRead]:
    """The five levels of personal contact and the quotas each sets."""
    rows = await contacts_service.list_priority_levels(session)
    return [PriorityLevelRead.model_validate(r) for r in rows]


@router.patch("/priority-levels/{level}", response_model=PriorityLevelRead)
async def update_priority_level(
    level: int,
    body: PriorityLevelUpdate,
    principal: Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))],
    request: Request,
    session: Session,
) -> PriorityLevelRead:
    """Rename a level or change its quotas (admins); recorded in the audit log."""
    row, changes = await contacts_service.update_priority_level(session, level, body)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="priority_level.update",
        target_type="priority_level",
        target_id=level,
        ip=client_ip(request),
        details=changes,
    )
    await session.commit()
    return PriorityLevelRead.model_validate(row)
