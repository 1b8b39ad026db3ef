"""The rule of seven as a picture: conversion by touch number per manager and per channel
(the channel of the touch the client converted at) beside the reference curve, and the
daily notice to each manager of their leads dropped before the seventh touch."""

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import service as analytics
from app.analytics.service import Filters, bucket_counts, in_range, managed_by, touch_buckets
from app.contacts.models import Contact
from app.events.dispatch import raise_event
from app.events.types import LeadsDropped
from app.sales import schemas as s
from app.sales import settings
from app.touchpoints.models import CLIENT_TOUCH_KINDS, Touchpoint

UNKNOWN = "unknown"  # no recorded conversion touch, or the log lacks it
NOTICE_ITEMS = 20  # contact ids a notice carries; the list endpoint has them all


def _curve(values: list[float | None]) -> list[s.ReferencePoint]:
    labels = [str(n) for n in range(1, analytics.SEVENTH)] + [f"{analytics.SEVENTH}+"]
    return [s.ReferencePoint(bucket=b, share=v) for b, v in zip(labels, values, strict=True)]


def _line(known: int, counts: list[int]) -> s.Conversion:
    return s.Conversion(
        known=known,
        buckets=touch_buckets(counts, known),
        before_seventh_share=analytics.share(sum(counts[:-1]), known),
    )


async def rule_of_seven(session: AsyncSession, f: Filters) -> s.RuleOfSeven:
    """Contacts converted in the range (by owner), grouped finely in SQL by (owner, channel)
    and summed here three ways, like the reactions report."""
    await analytics.prefer_indexes(session)
    tp = Touchpoint
    converted = and_(in_range(Contact.converted_at, f), *managed_by(Contact.owner_id, f))
    numbered = (
        select(
            tp.contact_id,
            tp.channel,
            func.row_number()
            .over(partition_by=tp.contact_id, order_by=(tp.occurred_at, tp.id))
            .label("n"),
        )
        .where(
            tp.kind.in_(CLIENT_TOUCH_KINDS),
            tp.contact_id.in_(select(Contact.id).where(converted)),
        )
        .subquery()
    )
    channel = func.coalesce(numbered.c.channel, UNKNOWN).label("channel")
    query = (
        select(Contact.owner_id, channel, func.count(Contact.conversion_touch).label("known"))
        .add_columns(*bucket_counts(Contact.conversion_touch))
        .outerjoin(
            numbered,
            and_(numbered.c.contact_id == Contact.id, numbered.c.n == Contact.conversion_touch),
        )
        .where(converted)
        .group_by(Contact.owner_id, channel)
    )
    rows = (await session.execute(query)).all()
    if f.channel is not None:
        rows = [r for r in rows if r.channel == f.channel]
    width = analytics.SEVENTH
    zero = [0] * width
    per_owner: dict[int | None, list[int]] = defaultdict(lambda: [0] * (width + 1))
    per_channel: dict[str, list[int]] = defaultdict(lambda: [0] * (width + 1))
    total = [0] * (width + 1)
    for owner, ch, known, *counts in rows:
        for acc in (per_owner[owner], per_channel[ch], total):
            acc[0] += known
            for i, n in enumerate(counts):
                acc[i + 1] += n
    names = await analytics.operator_names(session, per_owner)
    curve = (await settings.current(session)).reference_curve
    return s.RuleOfSeven(
        range=f.range,
        reference=_curve(curve),
        overall=_line(total[0], total[1:] or zero),
        by_manager=[
            s.ManagerConversion(
                operator_id=o, name=names.get(o) if o is not None else None, **_fields(v)
            )
            for o, v in sorted(per_owner.items(), key=lambda kv: (-kv[1][0], kv[0] or 0))
        ],
        by_channel=[
            s.ChannelConversion(channel=c, **_fields(v))
            for c, v in sorted(per_channel.items(), key=lambda kv: (-kv[1][0], kv[0]))
        ],
    )


def _fields(acc: list[int]) -> dict[str, object]:
    return _line(acc[0], acc[1:]).model_dump()


# ---------------------------------------------------------------- dropped leads, pushed


async def notify_dropped_leads(session: AsyncSession, on: date, zone: str) -> dict[int, int]:
    """Once a day (whichever node gets there first): each manager is told, on their console,
    of their leads dropped before the seventh touch on the local day before `on`. Returns
    {manager: leads}."""
    claimed = await session.scalar(
        text(
            "INSERT INTO job_runs (name, run_on) VALUES ('dropped_leads', :on) "
            "ON CONFLICT DO NOTHING RETURNING name"
        ),
        {"on": on},
    )
    if claimed is None:
        return {}
    tz = ZoneInfo(zone)
    end = datetime.combine(on, time(), tz)
    quiet = (await settings.current(session)).drop_inactive_days
    report = await analytics.dropped_leads(
        session, Filters(end - timedelta(days=1), end, zone=zone), inactive_days=quiet, limit=10**6
    )
    per_owner: dict[int, list[int]] = defaultdict(list)
    for lead in report.items:
        if lead.owner_id is not None:
            per_owner[lead.owner_id].append(lead.contact_id)
    for owner, contacts in per_owner.items():
        await raise_event(
            session,
            LeadsDropped(
                notify_operator_id=owner,
                on=(on - timedelta(days=1)).isoformat(),
                count=len(contacts),
                contact_ids=contacts[:NOTICE_ITEMS],
            ),
        )
    return {owner: len(c) for owner, c in per_owner.items()}


def today_in(zone: str) -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
