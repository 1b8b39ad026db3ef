"""Sales analytics over the touchpoint log, contacts, conversations and surveys
(DOMAIN.md: the rule of seven touches, measures, weak links, inbound load).

Every report covers [start, end). A manager filter (operator_id, team_id) means: the
touchpoint's operator for touch reports, the contact's owner for contact reports, the
assignee for conversation reports; team_id keeps the managers who are members of the team.
Contact stages are read as they are now."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import schemas as s
from app.channels.models import ChannelAccount
from app.contacts.models import Contact
from app.core.errors import Invalid
from app.core.timezones import Bucket, check_zone, local_bucket
from app.inbox.models import Conversation
from app.operators.models import Operator, team_members
from app.operators.timezones import manager_zone, team_zone
from app.surveys.models import Survey
from app.touchpoints.models import CLIENT_TOUCH_KINDS, Reaction, TouchKind, Touchpoint

SEVENTH = 7  # the rule of seven: buckets 1..6 and 7+
LEAD_STAGES = ("lead", "qualified", "lost")
POSITIVE_RATING = 4  # survey ratings 4-5 count as satisfied
DEFAULT_DROPPED_LIMIT = 100


@dataclass(frozen=True)
class Filters:
    start: datetime
    end: datetime
    channel: str | None = None
    operator_id: int | None = None
    team_id: int | None = None
    chain: str | None = None
    step: str | None = None
    zone: str = "UTC"  # the local days of series, and of the caller's from/to

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise Invalid("from and to need a time zone", "invalid_range")
        if self.start >= self.end:
            raise Invalid("from must be before to", "invalid_range")

    @property
    def range(self) -> s.Range:
        return s.Range(start=self.start, end=self.end, timezone=self.zone)


# ---------------------------------------------------------------- shared pieces


def in_range(column: Any, f: Filters) -> ColumnElement[bool]:
    return and_(column >= f.start, column < f.end)


def managed_by(column: Any, f: Filters) -> list[ColumnElement[bool]]:
    """The manager filters applied to the column that names the manager."""
    conditions: list[ColumnElement[bool]] = []
    if f.operator_id is not None:
        conditions.append(column == f.operator_id)
    if f.team_id is not None:
        members = select(team_members.c.operator_id).where(team_members.c.team_id == f.team_id)
        conditions.append(column.in_(members))
    return conditions


def _touch_filters(f: Filters) -> list[ColumnElement[bool]]:
    conditions = [in_range(Touchpoint.occurred_at, f), *managed_by(Touchpoint.operator_id, f)]
    if f.channel is not None:
        conditions.append(Touchpoint.channel == f.channel)
    if f.chain is not None:
        conditions.append(Touchpoint.chain == f.chain)
    if f.step is not None:
        conditions.append(Touchpoint.step == f.step)
    return conditions


async def prefer_indexes(session: AsyncSession) -> None:
    """For this transaction only. The reports read narrow partial indexes that stay cached;
    at the default random_page_cost (4, spinning disks) the planner would rather scan the
    whole log. Grouping a few hundred thousand rows wants more than the default 4 MB of
    work_mem, or it sorts on disk. And the same statement over 1 day or 90 days needs
    different plans: a cached generic plan (asyncpg prepares statements) picks one blindly."""
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    await session.execute(text("SET LOCAL random_page_cost = 1.1"))
    await session.execute(text("SET LOCAL work_mem = '32MB'"))


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


async def operator_names(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(Operator.id, Operator.name).where(Operator.id.in_(wanted)))
    return {row.id: row.name for row in rows}


def touch_buckets(counts: Sequence[int], whole: int) -> list[s.Bucket]:
    """counts[i] is the count for bucket i+1; the last one is 7+."""
    labels = [str(n) for n in range(1, SEVENTH)] + [f"{SEVENTH}+"]
    return [
        s.Bucket(bucket=label, count=n, share=share(n, whole))
        for label, n in zip(labels, counts, strict=True)
    ]


def bucket_counts(column: Any) -> list[Any]:
    exact = [func.count().filter(column == n) for n in range(1, SEVENTH)]
    return [*exact, func.count().filter(column >= SEVENTH)]


# ---------------------------------------------------------------- touches per client


async def touches_per_client(session: AsyncSession, f: Filters) -> s.TouchesPerClient:
    await prefer_indexes(session)
    per_contact = (
        select(Touchpoint.contact_id, func.count().label("n"))
        .where(Touchpoint.kind.in_(CLIENT_TOUCH_KINDS), *_touch_filters(f))
        .group_by(Touchpoint.contact_id)
        .subquery()
    )
    n = per_contact.c.n
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(n), 0),
                func.percentile_cont(0.5).within_group(n),
                func.percentile_cont(0.9).within_group(n),
                *bucket_counts(n),
            )
        )
    ).one()
    contacts, touches, median, p90, *counts = row
    return s.TouchesPerClient(
        range=f.range,
        contacts=contacts,
        touches=int(touches),
        mean=touches / contacts if contacts else None,
        median=_float(median),
        p90=_float(p90),
        histogram=touch_buckets(counts, contacts),
    )


# ---------------------------------------------------------------- the rule of seven


async def conversion_by_touch(session: AsyncSession, f: Filters) -> s.ConversionByTouch:
    await prefer_indexes(session)
    touch = Contact.conversion_touch
    row = (
        await session.execute(
            select(func.count(), func.count(touch), *bucket_counts(touch)).where(
                in_range(Contact.converted_at, f), *managed_by(Contact.owner_id, f)
            )
        )
    ).one()
    converted, known, *counts = row
    return s.ConversionByTouch(
        range=f.range,
        converted=converted,
        known=known,
        buckets=touch_buckets(counts, known),
        before_seventh_share=share(sum(counts[:-1]), known),
    )


# ---------------------------------------------------------------- dropped leads


def _client_touches_before(end: datetime) -> list[ColumnElement[bool]]:
    return [
        Touchpoint.contact_id == Contact.id,
        Touchpoint.kind.in_(CLIENT_TOUCH_KINDS),
        Touchpoint.occurred_at < end,
    ]


async def dropped_leads(
    session: AsyncSession,
    f: Filters,
    inactive_days: int = 30,
    limit: int = DEFAULT_DROPPED_LIMIT,
) -> s.DroppedLeads:
    """Leads dropped in the range before their seventh client touch: lost (stage_changed_at
    in the range) or gone quiet (no client touch for inactive_days, the quiet period
    ending in the range). Touches are counted up to the end of the range."""
    await prefer_indexes(session)
    quiet = timedelta(days=inactive_days)
    # Up to seven touches per contact are enough to tell "fewer than seven".
    first_seven = (
        select(literal(1).label("one"))
        .where(*_client_touches_before(f.end))
        .limit(SEVENTH)
        .correlate(Contact)
        .subquery()
    )
    touches = select(func.count()).select_from(first_seven).scalar_subquery()
    last_touch = (
        select(func.max(Touchpoint.occurred_at))
        .where(*_client_touches_before(f.end))
        .correlate(Contact)
        .scalar_subquery()
    )
    candidates = (
        select(
            Contact.id,
            Contact.name,
            Contact.owner_id,
            Contact.stage,
            Contact.created_at,
            Contact.stage_changed_at,
            touches.label("touches"),
            last_touch.label("last_touch_at"),
        )
        .where(
            Contact.stage.in_(LEAD_STAGES),
            Contact.created_at < f.end,
            *managed_by(Contact.owner_id, f),
            # Cheap pre-filter: lost in the range, or not lost (quiet is checked below).
            or_(Contact.stage != "lost", in_range(Contact.stage_changed_at, f)),
        )
        .subquery()
    )
    c = candidates.c
    lost = c.stage == "lost"
    dropped_at = case(
        (lost, c.stage_changed_at),
        else_=func.coalesce(c.last_touch_at, c.created_at) + quiet,
    ).label("dropped_at")
    rows = (
        await session.execute(
            select(c.id, c.name, c.owner_id, c.stage, c.touches, c.last_touch_at, dropped_at)
            .where(c.touches < SEVENTH, in_range(dropped_at, f))
            .order_by(dropped_at.desc(), c.id.desc())
        )
    ).all()
    names = await operator_names(session, (r.owner_id for r in rows))
    per_manager: dict[int | None, dict[str, int]] = defaultdict(lambda: {"lost": 0, "inactive": 0})
    for r in rows:
        per_manager[r.owner_id]["lost" if r.stage == "lost" else "inactive"] += 1
    by_manager = [
        s.DroppedByManager(
            owner_id=owner,
            name=names.get(owner) if owner is not None else None,
            lost=n["lost"],
            inactive=n["inactive"],
            total=n["lost"] + n["inactive"],
        )
        for owner, n in per_manager.items()
    ]
    by_manager.sort(key=lambda m: (-m.total, m.owner_id or 0))
    items = [
        s.DroppedLead(
            contact_id=r.id,
            name=r.name,
            owner_id=r.owner_id,
            stage=r.stage,
            touches=r.touches,
            last_touch_at=r.last_touch_at,
            reason="lost" if r.stage == "lost" else "inactive",
            dropped_at=r.dropped_at,
        )
        for r in rows[:limit]
    ]
    return s.DroppedLeads(
        range=f.range,
        inactive_days=inactive_days,
        total=len(rows),
        by_manager=by_manager,
        items=items,
        truncated=len(rows) > limit,
    )


# ---------------------------------------------------------------- CR, CLR, SR


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(query) or 0)


async def rates(session: AsyncSession, f: Filters) -> s.Rates:
    """Each rate's numerator is a subset of its denominator, so no rate exceeds 1:
    CR = of the leads created in the range (one cohort), those converted by its end;
    CLR = of the contacts closed in the range (won: converted; lost: stage changed), the won;
    SR = of the survey answers given in the range, the positive (see satisfaction)."""
    await prefer_indexes(session)
    owner = managed_by(Contact.owner_id, f)
    contacts = select(func.count()).select_from(Contact)
    cohort = contacts.where(in_range(Contact.created_at, f), *owner)
    leads = await _count(session, cohort)
    converted = await _count(session, cohort.where(Contact.converted_at < f.end))
    won = await _count(
        session,
        contacts.where(
            Contact.stage == "customer",
            in_range(func.coalesce(Contact.converted_at, Contact.stage_changed_at), f),
            *owner,
        ),
    )
    lost = await _count(
        session,
        contacts.where(Contact.stage == "lost", in_range(Contact.stage_changed_at, f), *owner),
    )
    return s.Rates(
        range=f.range,
        cr=s.Rate(numerator=converted, denominator=leads, rate=share(converted, leads)),
        clr=s.Rate(numerator=won, denominator=won + lost, rate=share(won, won + lost)),
        satisfaction=await satisfaction(session, f),
    )


async def satisfaction(session: AsyncSession, f: Filters) -> s.SatisfactionRates:
    """SR from survey answers, and SR adjusted by the negative signals surveys miss."""
    survey_query = (
        select(func.count(), func.count().filter(Survey.rating >= POSITIVE_RATING))
        .select_from(Survey)
        .join(Conversation, Conversation.id == Survey.conversation_id)
        .where(in_range(Survey.answered_at, f), Survey.rating.is_not(None))
        .where(*managed_by(Conversation.assignee_id, f))
    )
    if f.channel is not None:
        survey_query = survey_query.join(
            ChannelAccount, ChannelAccount.id == Survey.channel_account_id
        ).where(ChannelAccount.type == f.channel)
    answers, positive = (await session.execute(survey_query)).one()

    # A low survey rating is copied onto its conversation's touchpoints: those are the
    # survey's answer again (already in the denominator), not a separate signal. Internal
    # touchpoints (alerts, missed response targets) are our process, not the client's.
    bad_survey = (
        select(Survey.conversation_id)
        .where(Survey.conversation_id == Touchpoint.conversation_id)
        .where(Survey.rating < 3)
        .correlate(Touchpoint)
    )
    signals = await session.execute(
        select(Touchpoint.kind, func.count())
        .where(
            Touchpoint.reaction == Reaction.negative,
            Touchpoint.kind != TouchKind.survey,
            Touchpoint.direction != "internal",
            or_(Touchpoint.kind == TouchKind.delivery_failure, ~bad_survey.exists()),
            *_touch_filters(f),
        )
        .group_by(Touchpoint.kind)
    )
    by_kind = {str(kind): n for kind, n in signals}
    negative = sum(by_kind.values())
    return s.SatisfactionRates(
        answers=answers,
        positive=positive,
        negative_signals=negative,
        sr=share(positive, answers),
        sr_adjusted=share(positive, answers + negative),
        negative_signals_by_kind=dict(sorted(by_kind.items())),
    )


# ---------------------------------------------------------------- response times


def _seconds(later: Any, earlier: Any) -> ColumnElement[float]:
    return cast(extract("epoch", later - earlier), Float)


async def response_times(session: AsyncSession, f: Filters) -> s.ResponseTimes:
    """First response (from assignment, or from creation when never assigned or assigned
    only after the first answer) for conversations first answered in the range;
    resolution (from creation) for conversations resolved in the range."""
    await prefer_indexes(session)
    conv = Conversation
    since = case(
        (conv.assigned_at <= conv.first_response_at, conv.assigned_at), else_=conv.created_at
    )
    answered = in_range(conv.first_response_at, f)
    resolved = in_range(conv.resolved_at, f)
    first = case((answered, _seconds(conv.first_response_at, since)))
    resolution = case((resolved, _seconds(conv.resolved_at, conv.created_at)))
    query = (
        select(
            conv.assignee_id,
            func.grouping(conv.assignee_id).label("overall"),
            func.count(first),
            func.percentile_cont(0.5).within_group(first),
            func.percentile_cont(0.9).within_group(first),
            func.count(resolution),
            func.percentile_cont(0.5).within_group(resolution),
            func.percentile_cont(0.9).within_group(resolution),
        )
        .where(or_(answered, resolved), *managed_by(conv.assignee_id, f))
        .group_by(func.rollup(conv.assignee_id))  # each manager, and everyone
    )
    if f.channel is not None:
        query = query.join(ChannelAccount, ChannelAccount.id == conv.channel_account_id).where(
            ChannelAccount.type == f.channel
        )
    rows = (await session.execute(query)).all()
    names = await operator_names(session, (r[0] for r in rows))

    def times(row: Any) -> s.ManagerTimes:
        operator_id, overall, n1, m1, p1, n2, m2, p2 = row
        return s.ManagerTimes(
            operator_id=None if overall else operator_id,
            name=None if overall or operator_id is None else names.get(operator_id),
            first_response=s.Durations(count=n1, median_seconds=m1, p90_seconds=p1),
            resolution=s.Durations(count=n2, median_seconds=m2, p90_seconds=p2),
        )

    empty = s.Durations(count=0, median_seconds=None, p90_seconds=None)
    overall = next(
        (times(r) for r in rows if r.overall),
        s.ManagerTimes(operator_id=None, name=None, first_response=empty, resolution=empty),
    )
    managers = [times(r) for r in rows if not r.overall]
    managers.sort(key=lambda m: (-(m.first_response.median_seconds or 0), m.operator_id or 0))
    return s.ResponseTimes(range=f.range, overall=overall, managers=managers)


# ---------------------------------------------------------------- reactions


def _reaction_counts(counts: dict[str, int]) -> dict[str, Any]:
    rated = sum(counts.get(r, 0) for r in ("positive", "neutral", "negative"))
    values: dict[str, Any] = {r.value: counts.get(r.value, 0) for r in Reaction}
    values["total"] = sum(counts.values())
    values["negative_share"] = share(counts.get("negative", 0), rated)
    return values


def _weakest_first(item: s.ReactionCounts) -> tuple[float, int]:
    return (-(item.negative_share or 0.0), -item.total)


async def reactions(session: AsyncSession, f: Filters) -> s.Reactions:
    """One pass over the range, grouped finely in SQL (a single hash key per row is much
    cheaper than GROUPING SETS, which PostgreSQL cannot run in parallel) and summed three
    ways here: the fine groups number in the thousands at most."""
    await prefer_indexes(session)
    tp = Touchpoint
    rows = await session.execute(
        select(tp.channel, tp.chain, tp.step, tp.operator_id, tp.reaction, func.count())
        .where(*_touch_filters(f))
        .group_by(tp.channel, tp.chain, tp.step, tp.operator_id, tp.reaction)
    )
    channels: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    steps: dict[tuple[str, str | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    managers: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for channel, chain, step, operator_id, reaction_value, n in rows:
        reaction = str(reaction_value)
        channels[channel][reaction] += n
        if chain is not None:  # touches outside any chain belong to no step
            steps[(chain, step)][reaction] += n
        if operator_id is not None:
            managers[operator_id][reaction] += n
    names = await operator_names(session, managers)
    by_channel = [s.ChannelReactions(channel=k, **_reaction_counts(v)) for k, v in channels.items()]
    by_step = [
        s.StepReactions(chain=chain, step=step, **_reaction_counts(v))
        for (chain, step), v in steps.items()
    ]
    by_manager = [
        s.ManagerReactions(operator_id=k, name=names.get(k), **_reaction_counts(v))
        for k, v in managers.items()
    ]
    by_channel.sort(key=lambda i: (*_weakest_first(i), i.channel))
    by_step.sort(key=lambda i: (*_weakest_first(i), i.chain, i.step or ""))
    by_manager.sort(key=lambda i: (*_weakest_first(i), i.operator_id))
    return s.Reactions(range=f.range, by_channel=by_channel, by_step=by_step, by_manager=by_manager)


# ---------------------------------------------------------------- inbound load


async def inbound_load(
    session: AsyncSession, f: Filters, bucket: Bucket = Bucket.day
) -> s.InboundLoad:
    """Inbound messages per manager per local day, week or month (in the filters' zone):
    the touchpoint's operator, else the conversation's assignee."""
    await prefer_indexes(session)
    manager = func.coalesce(Touchpoint.operator_id, Conversation.assignee_id)
    day = local_bucket(Touchpoint.occurred_at, f.zone, bucket)
    conditions = [
        Touchpoint.kind == TouchKind.message,
        Touchpoint.direction == "inbound",
        in_range(Touchpoint.occurred_at, f),
        *managed_by(manager, f),
    ]
    if f.channel is not None:
        conditions.append(Touchpoint.channel == f.channel)
    rows = (
        await session.execute(
            select(manager.label("manager"), day.label("day"), func.count())
            .select_from(Touchpoint)
            .outerjoin(Conversation, Conversation.id == Touchpoint.conversation_id)
            .where(*conditions)
            .group_by(manager, day)  # ordered here: an ORDER BY makes it sort every row
        )
    ).all()
    rows = sorted(rows, key=lambda r: r.day)
    days: dict[int | None, list[s.DayLoad]] = defaultdict(list)
    for operator_id, on, n in rows:
        days[operator_id].append(s.DayLoad(day=on, count=n))
    names = await operator_names(session, days)
    managers = [
        s.ManagerLoad(
            operator_id=operator_id,
            name=names.get(operator_id) if operator_id is not None else None,
            total=sum(d.count for d in load),
            days=load,
        )
        for operator_id, load in days.items()
    ]
    managers.sort(key=lambda m: (-m.total, m.operator_id or 0))
    return s.InboundLoad(
        range=f.range,
        timezone=f.zone,
        bucket=bucket.value,
        total=sum(m.total for m in managers),
        managers=managers,
    )


async def report_zone(
    session: AsyncSession,
    explicit: str | None,
    *,
    team_id: int | None,
    operator_id: int | None,
    default: str,
) -> str:
    """The zone a report reads days in: the one asked for, else the team's (team_id), else
    the manager's (operator_id), else the deployment's default."""
    if explicit is not None:
        return check_zone(explicit)
    if team_id is not None:
        return await team_zone(session, team_id, default)
    if operator_id is not None:
        return await manager_zone(session, operator_id, default)
    return default
