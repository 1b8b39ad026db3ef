"""GET /api/v1/analytics/<the head of sales' reports>: quotas, the weekly plan, the rule of
seven, base health, manager KPIs. Scoped like every report (app.analytics.api's Scoped: an
operator sees their own figures, a team lead their team's, admins all)."""

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from app.analytics.api import OwnerFilters, Scoped, TouchFilters
from app.analytics.service import Filters
from app.core.deps import Session
from app.core.timezones import Bucket, local_today
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal
from app.sales import base, export, kpis, schemas, seven
from app.sales import plan as plan_service
from app.sales import quotas as quotas_service
from app.sales.common import week_filters, week_of

router = APIRouter(prefix="/api/v1/analytics", tags=["sales"])

WeekDay = Annotated[
    date | None,
    Query(alias="week", description="any day of the week (Monday to Sunday); default: this week"),
]


async def week_scope(session: Session, scope: Scoped, week: WeekDay = None) -> Filters:
    day = week or await local_today(session, scope.zone)
    return week_filters(week_of(day, scope.zone), scope.operator_id, scope.team_id, scope.zone)


WeekFilters = Annotated[Filters, Depends(week_scope)]


@router.get("/quotas", response_model=schemas.Quotas)
async def quotas(session: Session, f: WeekFilters) -> schemas.Quotas:
    """Plan vs fact of the priority levels' quotas per manager, as of the end of the week,
    and the clients behind plan."""
    return await quotas_service.quotas(session, f)


@router.get("/weekly-plan", response_model=schemas.WeeklyPlan)
async def weekly_plan(session: Session, f: WeekFilters) -> schemas.WeeklyPlan:
    """Deals wanted -> contacts needed (at contacts_per_deal), beside the week's contacts,
    touches and deals, per manager."""
    return await plan_service.weekly_plan(session, f)


@router.get("/rule-of-seven", response_model=schemas.RuleOfSeven)
async def rule_of_seven(session: Session, f: TouchFilters) -> schemas.RuleOfSeven:
    """Conversion by touch number (contacts converted in the range, by owner) per manager
    and per channel of the converting touch, beside the reference curve. The leads dropped
    before the seventh touch are GET /dropped-leads (and a daily console notice)."""
    return await seven.rule_of_seven(session, f)


@router.get("/base-health", response_model=schemas.BaseHealth)
async def base_health(
    session: Session,
    f: OwnerFilters,
    on: Annotated[date | None, Query(description="the day (default: today)")] = None,
) -> schemas.BaseHealth:
    """Each manager's live base against the band, the clients overdue by their category's
    cadence, and how many base clients are due a review."""
    day = on or await local_today(session, f.zone)
    return await base.base_health(session, f, day, datetime.now(UTC))


@router.get("/base-review", response_model=schemas.ReviewList)
async def base_review(
    session: Session,
    f: OwnerFilters,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> schemas.ReviewList:
    """The periodic review: base clients not reviewed within review_period_days."""
    return await base.review_list(session, f, datetime.now(UTC), limit)


@router.post("/base-review", response_model=schemas.ReviewOutcome)
async def review_decision(
    body: schemas.ReviewDecision,
    principal: Annotated[Principal, Depends(require(scopes.CONTACTS_WRITE))],
    session: Session,
) -> schemas.ReviewOutcome:
    """Move the client up or down a priority level, out of the base, or keep them; the
    decision is a touchpoint (chain base_review, step the decision)."""
    outcome = await base.decide(session, principal, body)
    await session.commit()
    return outcome


@router.get("/kpis", response_model=schemas.Kpis)
async def manager_kpis(
    session: Session,
    f: TouchFilters,
    bucket: Annotated[Bucket, Query(description="day, week or month, in `timezone`")] = Bucket.week,
) -> schemas.Kpis:
    """Calls and meetings logged, deals and their size, time to a deal, inbound vs own
    prospecting, per manager."""
    return await kpis.kpis(session, f, bucket)


Report = Literal["quotas", "weekly-plan", "rule-of-seven", "base-health", "kpis"]
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get(
    "/export/{report}.{fmt}",
    response_class=Response,
    responses={200: {"content": {m: {} for m in MEDIA.values()}}},
)
async def export_report(
    report: Report,
    fmt: Literal["csv", "xlsx"],
    session: Session,
    scope: Scoped,
    f: TouchFilters,
    week: WeekDay = None,
    on: Annotated[date | None, Query()] = None,
    bucket: Annotated[Bucket, Query()] = Bucket.week,
) -> Response:
    """One report as a spreadsheet: the same figures, filters and scope as its JSON."""
    sheets: export.Sheets
    if report in ("quotas", "weekly-plan"):
        wf = await week_scope(session, scope, week)
        if report == "quotas":
            sheets = export.quotas(await quotas_service.quotas(session, wf))
        else:
            sheets = [(report, export.weekly_plan(await plan_service.weekly_plan(session, wf)))]
    elif report == "rule-of-seven":
        sheets = [(report, export.rule_of_seven(await seven.rule_of_seven(session, f)))]
    elif report == "base-health":
        day = on or await local_today(session, f.zone)
        sheets = export.base_health(await base.base_health(session, f, day, datetime.now(UTC)))
    else:
        sheets = [(report, export.kpis(await kpis.kpis(session, f, bucket)))]
    body = export.to_csv(sheets) if fmt == "csv" else export.to_xlsx(sheets)
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{report}.{fmt}"'},
    )
