from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from app.core.deps import Ctx, Session
from app.core.errors import Forbidden, Invalid
from app.core.timezones import check_zone, days_before, local_today
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal
from app.operators.timezones import manager_zone
from app.touchpoints import cadence as cadence_service
from app.touchpoints import service as touchpoints_service
from app.touchpoints.schemas import (
    CadenceReport,
    ReactionUpdate,
    TouchpointCreate,
    TouchpointPage,
    TouchpointRead,
)

# The log's own paths, and the two views of it found under the contacts' paths (the client's
# timeline, the manager's plan): all in the one router app/main.py includes (at the end).
touchpoints = APIRouter(prefix="/touchpoints", tags=["touchpoints"])
by_contact = APIRouter(tags=["contacts"])


@touchpoints.get("", response_model=TouchpointPage)
async def list_touchpoints(
    principal: Annotated[Principal, Depends(require(scopes.TOUCHPOINTS_READ))],
    session: Session,
    contact_id: int | None = None,
    conversation_id: int | None = None,
    before: Annotated[int | None, Query(ge=0, description="cursor: touchpoint id")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TouchpointPage:
    rows = await touchpoints_service.list_touchpoints(
        session,
        principal,
        contact_id=contact_id,
        conversation_id=conversation_id,
        before_id=before,
        limit=limit + 1,
    )
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    rows = rows[:limit]
    previews = await touchpoints_service.message_previews(
        session, [t.message_id for t in rows if t.message_id is not None]
    )
    return TouchpointPage(
        items=[
            TouchpointRead.model_validate(t).model_copy(
                update={"preview": previews.get(t.message_id) if t.message_id else None}
            )
            for t in rows
        ],
        next_cursor=next_cursor,
    )


@touchpoints.post("", response_model=TouchpointRead, status_code=201)
async def log_touchpoint(
    body: TouchpointCreate,
    principal: Annotated[Principal, Depends(require(scopes.TOUCHPOINTS_WRITE))],
    session: Session,
) -> TouchpointRead:
    """Log a touch that happened elsewhere: a phone call, a meeting, an email."""
    tp = await touchpoints_service.log_touch(session, principal, body)
    await session.commit()
    return TouchpointRead.model_validate(tp)


@touchpoints.patch("/{touchpoint_id}", response_model=TouchpointRead)
async def mark_reaction(
    touchpoint_id: int,
    body: ReactionUpdate,
    principal: Annotated[Principal, Depends(require(scopes.TOUCHPOINTS_WRITE))],
    session: Session,
) -> TouchpointRead:
    """An operator marks how the client reacted (positive, neutral, negative)."""
    tp = await touchpoints_service.set_reaction(session, principal, touchpoint_id, body.reaction)
    await session.commit()
    return TouchpointRead.model_validate(tp)


@touchpoints.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_csv(
    principal: Annotated[Principal, Depends(require(scopes.TOUCHPOINTS_READ))],
    ctx: Ctx,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    delimiter: Annotated[
        str,
        Query(
            max_length=1,
            description="',' (default), ';' (Excel under a Russian or other comma-decimal "
            "locale) or a tab (%09)",
        ),
    ] = ",",
) -> StreamingResponse:
    """Touchpoints in [from, to) as CSV for spreadsheets (UTF-8 with a BOM, formula-looking
    cells quoted), streamed row by row from the database."""
    end = end or datetime.now(UTC)
    start = start or days_before(end, 30)
    if start >= end:
        raise Invalid("from must be before to", "invalid_range")
    touchpoints_service.check_delimiter(delimiter)  # before the response starts

    async def chunks() -> AsyncIterator[str]:
        # Its own session: the request's is closed once the response starts streaming.
        async with ctx.sessions() as session:
            async for chunk in touchpoints_service.export_csv(
                session, principal, start, end, delimiter
            ):
                yield chunk

    filename = f"touchpoints-{start:%Y%m%d}-{end:%Y%m%d}.csv"
    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@by_contact.get("/contacts/{contact_id}/timeline", response_model=list[TouchpointRead])
async def contact_timeline(
    contact_id: int,
    principal: Annotated[Principal, Depends(require(scopes.TOUCHPOINTS_READ))],
    session: Session,
    before: Annotated[int | None, Query(ge=0, description="touchpoint id cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[TouchpointRead]:
    """Every touchpoint of the client, across channels, oldest first."""
    rows = await touchpoints_service.contact_timeline(
        session, principal, contact_id, before=before, limit=limit
    )
    return [TouchpointRead.model_validate(t) for t in rows]


@by_contact.get("/cadence", response_model=CadenceReport)
async def cadence(
    principal: Annotated[Principal, Depends(require(scopes.CONTACTS_READ))],
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
    report = await cadence_service.cadence(session, target, day, zone)
    return CadenceReport(
        operator_id=target,
        on=day,
        timezone=zone,
        due_today=report.due_today,
        overdue=report.overdue,
    )


router = APIRouter(prefix="/api/v1")
router.include_router(touchpoints)
router.include_router(by_contact)
