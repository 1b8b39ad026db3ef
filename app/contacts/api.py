from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.audit import service as audit
from app.contacts import service as contacts_service
from app.contacts.models import Contact
from app.contacts.schemas import (
    CadenceReport,
    CategoryRead,
    CategoryWrite,
    ContactDetail,
    ContactPage,
    ContactRead,
    ContactUpdate,
    IdentityRead,
)
from app.core.deps import Ctx, Session, client_ip
from app.core.errors import Forbidden
from app.core.timezones import check_zone, local_today
from app.operators import scopes, visibility
from app.operators.auth import require
from app.operators.service import Principal
from app.operators.timezones import manager_zone
from app.touchpoints.schemas import TouchpointRead
from app.webchat import service as webchat_service

router = APIRouter(prefix="/api/v1", tags=["contacts"])

ContactsReader = Annotated[Principal, Depends(require(scopes.CONTACTS_READ))]
ContactsWriter = Annotated[Principal, Depends(require(scopes.CONTACTS_WRITE))]


@router.get("/contacts", response_model=ContactPage)
async def list_contacts(
    principal: ContactsReader,
    session: Session,
    q: Annotated[str | None, Query(max_length=200, description="name, email or phone")] = None,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> ContactPage:
    rows, next_cursor = await contacts_service.list_contacts(
        session, principal, q=q, cursor=cursor, limit=limit
    )
    return ContactPage(items=[ContactRead.model_validate(c) for c in rows], next_cursor=next_cursor)


async def _detail(session: Session, principal: Principal, contact_id: int) -> ContactDetail:
    contact = await contacts_service.get_contact(session, principal, contact_id)
    identities = await contacts_service.identities_of(session, contact_id)
    return ContactDetail(
        **ContactRead.model_validate(contact).model_dump(),
        identities=[IdentityRead.model_validate(i) for i in identities],
    )


@router.get("/contacts/{contact_id}", response_model=ContactDetail)
async def get_contact(
    contact_id: int, principal: ContactsReader, session: Session
) -> ContactDetail:
    return await _detail(session, principal, contact_id)


@router.patch("/contacts/{contact_id}", response_model=ContactDetail)
async def update_contact(
    contact_id: int, body: ContactUpdate, principal: ContactsWriter, session: Session
) -> ContactDetail:
    """Edit the client card. A stage change is a touchpoint; becoming a customer records the
    touch number at which it happened."""
    await contacts_service.update_contact(session, principal, contact_id, body)
    await session.commit()
    return await _detail(session, principal, contact_id)


@router.post("/contacts/{contact_id}/revoke-widget-sessions", status_code=204)
async def revoke_widget_sessions(
    contact_id: int, principal: ContactsWriter, request: Request, ctx: Ctx, session: Session
) -> Response:
    """End every web chat session of the contact (a leaked token, a shared computer, the
    site's user signed out): their visitor tokens answer 401 `token_revoked` from now on and
    their open widget sockets close with 4401. A new session can be started as before."""
    await visibility.require(session, principal, Contact, contact_id)
    await webchat_service.revoke_sessions(session, contact_id)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="contact.revoke_widget_sessions",
        target_type="contact",
        target_id=contact_id,
        ip=client_ip(request),
    )
    await session.commit()
    webchat_service.versions_of(ctx).forget([contact_id])  # the bus tells the other nodes
    return Response(status_code=204)


@router.get("/contacts/{contact_id}/timeline", response_model=list[TouchpointRead])
async def contact_timeline(
    contact_id: int,
    principal: Annotated[Principal, Depends(require(scopes.TOUCHPOINTS_READ))],
    session: Session,
    before: Annotated[int | None, Query(ge=0, description="touchpoint id cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[TouchpointRead]:
    """Every touchpoint of the client, across channels, oldest first."""
    rows = await contacts_service.timeline(
        session, principal, contact_id, before=before, limit=limit
    )
    return [TouchpointRead.model_validate(t) for t in rows]


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


@router.get("/cadence", response_model=CadenceReport)
async def cadence(
    principal: ContactsReader,
    session: Session,
    ctx: Ctx,
    operator_id: int | None = None,
    on: Annotated[
        date | None, Query(description="the day to plan (default: today in `timezone`)")
    ] = None,
    timezone: Annotated[
        str | None,
        Query(
            max_length=64,
            description="IANA zone of the days (default: the manager's team's, else "
            "default_timezone)",
        ),
    ] = None,
) -> CadenceReport:
    """Which of a manager's clients are due a touch today and which are overdue."""
    target = operator_id if operator_id is not None else principal.operator_id
    if target is None:
        raise Forbidden("An API key must name operator_id", "operator_required")
    if target != principal.operator_id and not principal.sees_everything:
        raise Forbidden("Only admins see another manager's plan", "not_yourself")
    zone = (
        check_zone(timezone)
        if timezone is not None
        else await manager_zone(session, target, ctx.settings.default_timezone)
    )
    day = on or await local_today(session, zone)
    report = await contacts_service.cadence(session, target, day, zone)
    return CadenceReport(
        operator_id=target,
        on=day,
        timezone=zone,
        due_today=report.due_today,
        overdue=report.overdue,
    )
