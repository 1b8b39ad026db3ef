"""GET /api/v1/analytics/*: what a head of sales looks at (issue 6, DOMAIN.md measures).
Every report takes from/to (default: the last 30 days) and timezone (a from/to without a
zone is read in it; series are its local days)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.analytics import schemas
from app.analytics import service as analytics
from app.analytics.service import Filters
from app.core.deps import Ctx, Session
from app.core.timezones import Bucket, aware, days_before
from app.operators import scopes, visibility
from app.operators.auth import require
from app.operators.service import Principal

# Every report needs touchpoints:read (operators have it; API keys must hold it). One
# dependency object, so FastAPI resolves the caller once per request.
_reader = require(scopes.TOUCHPOINTS_READ)
Reader = Annotated[Principal, Depends(_reader)]
router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"], dependencies=[Depends(_reader)])

DEFAULT_DAYS = 30

Start = Annotated[
    datetime | None, Query(alias="from", description="Inclusive. Default: `to` - 30 days")
]
End = Annotated[datetime | None, Query(alias="to", description="Exclusive. Default: now")]
OperatorId = Annotated[int | None, Query(description="One manager")]
TeamId = Annotated[int | None, Query(description="The managers of one team")]
Channel = Annotated[
    str | None, Query(max_length=32, description="telegram, whatsapp, webchat, phone, ...")
]
Chain = Annotated[str | None, Query(max_length=64)]
Step = Annotated[str | None, Query(max_length=64)]
TimeZone = Annotated[
    str | None,
    Query(
        alias="timezone",
        max_length=64,
        description="IANA zone of the days and of a from/to without a zone. Default: the "
        "team's (team_id), else the manager's team's (operator_id), else default_timezone",
    ),
]


class Scope:
    """Who and where a report is about: the manager and team the caller may look at (the
    visibility rule), then the time zone of its days (the team's or manager's by default)."""

    def __init__(self, operator_id: int | None, team_id: int | None, zone: str) -> None:
        self.operator_id, self.team_id, self.zone = operator_id, team_id, zone


async def _scope(
    principal: Reader,
    session: Session,
    ctx: Ctx,
    zone: TimeZone = None,
    operator_id: OperatorId = None,
    team_id: TeamId = None,
) -> Scope:
    operator_id, team_id = visibility.analytics_scope(principal, operator_id, team_id)
    local = await analytics.report_zone(
        session,
        zone,
        team_id=team_id,
        operator_id=operator_id,
        default=ctx.settings.default_timezone,
    )
    return Scope(operator_id, team_id, local)


Scoped = Annotated[Scope, Depends(_scope)]


def _window(start: datetime | None, end: datetime | None, zone: str) -> tuple[datetime, datetime]:
    end = aware(end, zone) if end else datetime.now(UTC)
    start = aware(start, zone) if start else days_before(end, DEFAULT_DAYS)
    return start, end


async def touch_filters(
    scope: Scoped,
    start: Start = None,
    end: End = None,
    channel: Channel = None,
    chain: Chain = None,
    step: Step = None,
) -> Filters:
    """For reports over touchpoints: the manager is the touchpoint's operator."""
    return Filters(
        *_window(start, end, scope.zone),
        channel=channel,
        operator_id=scope.operator_id,
        team_id=scope.team_id,
        chain=chain,
        step=step,
        zone=scope.zone,
    )


async def owner_filters(scope: Scoped, start: Start = None, end: End = None) -> Filters:
    """For reports over contacts: the manager is the contact's owner."""
    return Filters(
        *_window(start, end, scope.zone),
        operator_id=scope.operator_id,
        team_id=scope.team_id,
        zone=scope.zone,
    )


async def conversation_filters(
    scope: Scoped, start: Start = None, end: End = None, channel: Channel = None
) -> Filters:
    """For reports over conversations: the manager is the assignee."""
    return Filters(
        *_window(start, end, scope.zone),
        channel=channel,
        operator_id=scope.operator_id,
        team_id=scope.team_id,
        zone=scope.zone,
    )


TouchFilters = Annotated[Filters, Depends(touch_filters)]
OwnerFilters = Annotated[Filters, Depends(owner_filters)]
ConversationFilters = Annotated[Filters, Depends(conversation_filters)]


@router.get("/touches-per-client", response_model=schemas.TouchesPerClient)
async def touches_per_client(session: Session, f: TouchFilters) -> schemas.TouchesPerClient:
    """Client touches per contact in the range: mean, median, p90 and a 1..7+ histogram."""
    return await analytics.touches_per_client(session, f)


@router.get("/conversion-by-touch", response_model=schemas.ConversionByTouch)
async def conversion_by_touch(session: Session, f: OwnerFilters) -> schemas.ConversionByTouch:
    """The rule of seven: of the contacts converted in the range, the share that converted
    at client touch 1, 2, ..., 6, 7+."""
    return await analytics.conversion_by_touch(session, f)


@router.get("/dropped-leads", response_model=schemas.DroppedLeads)
async def dropped_leads(
    session: Session,
    f: OwnerFilters,
    inactive_days: Annotated[int, Query(ge=1, le=365)] = 30,
    limit: Annotated[int, Query(ge=1, le=1000)] = analytics.DEFAULT_DROPPED_LIMIT,
) -> schemas.DroppedLeads:
    """Leads dropped in the range before their seventh client touch (lost, or no client
    touch for inactive_days), per manager and as a list."""
    return await analytics.dropped_leads(session, f, inactive_days=inactive_days, limit=limit)


@router.get("/rates", response_model=schemas.Rates)
async def rates(session: Session, f: ConversationFilters) -> schemas.Rates:
    """CR and CLR (contacts, by owner; channel does not apply), SR from surveys and SR
    adjusted by negative signals (by conversation assignee / touchpoint operator)."""
    return await analytics.rates(session, f)


@router.get("/response-times", response_model=schemas.ResponseTimes)
async def response_times(session: Session, f: ConversationFilters) -> schemas.ResponseTimes:
    """First response and resolution times per manager: median and p90, in seconds."""
    return await analytics.response_times(session, f)


@router.get("/reactions", response_model=schemas.Reactions)
async def reactions(session: Session, f: TouchFilters) -> schemas.Reactions:
    """Reactions by channel, by chain step and by manager: the weak links first."""
    return await analytics.reactions(session, f)


@router.get("/inbound-load", response_model=schemas.InboundLoad)
async def inbound_load(
    session: Session,
    f: ConversationFilters,
    bucket: Annotated[
        Bucket, Query(description="day, week (Monday to Sunday) or month, in `timezone`")
    ] = Bucket.day,
) -> schemas.InboundLoad:
    """Inbound messages per manager per local day, week or month."""
    return await analytics.inbound_load(session, f, bucket)
