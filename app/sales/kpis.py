"""Manager KPIs over a range: calls and meetings logged (and per day, week or month), deals
(orders placed by the manager's clients, cancelled ones aside) with their size from the
orders' amounts, time from first contact to conversion, and where the manager's new clients
and conversions came from: inbound (the client wrote first) or own prospecting (we did)."""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Float, Numeric, Text, case, cast, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.service import Filters, in_range, managed_by, prefer_indexes
from app.chains.models import Order, OrderStatus
from app.contacts.models import Contact
from app.core.timezones import Bucket, local_bucket
from app.sales import schemas as s
from app.sales.common import managers
from app.touchpoints.models import CLIENT_TOUCH_KINDS, TouchKind, Touchpoint

DAY_SECONDS = 86400
_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


def _amount() -> Any:
    """An order's amount as a number: the JSON number itself, or {"value": "120.00"}."""
    a = Order.amount
    value = a["value"].astext
    return case(
        (func.jsonb_typeof(a) == "number", cast(cast(a, Text), Numeric)),
        (value.regexp_match(_NUMBER), cast(value, Numeric)),
    )


def _first_direction() -> Any:
    """The direction of the client's first client touch: inbound = the client came to us."""
    return (
        select(Touchpoint.direction)
        .where(Touchpoint.contact_id == Contact.id, Touchpoint.kind.in_(CLIENT_TOUCH_KINDS))
        .order_by(Touchpoint.occurred_at, Touchpoint.id)
        .limit(1)
        .correlate(Contact)
        .scalar_subquery()
    )


async def kpis(session: AsyncSession, f: Filters, bucket: Bucket) -> s.Kpis:
    await prefer_indexes(session)
    people = await managers(session, f)
    ids = [i for i, _ in people]
    tp = Touchpoint
    touch_where = [
        tp.operator_id.in_(ids),
        tp.kind.in_((TouchKind.call, TouchKind.meeting)),
        in_range(tp.occurred_at, f),
    ]
    if f.channel is not None:
        touch_where.append(tp.channel == f.channel)
    period = local_bucket(tp.occurred_at, f.zone, bucket).label("period")
    series: dict[int, list[s.KpiPoint]] = defaultdict(list)
    logged: dict[int, dict[str, int]] = defaultdict(lambda: {"call": 0, "meeting": 0})
    for r in await session.execute(
        select(tp.operator_id, period, tp.kind, func.count().label("n"))
        .where(*touch_where)
        .group_by(tp.operator_id, period, tp.kind)
        .order_by(period)
    ):
        logged[r.operator_id][str(r.kind)] += r.n
        points = series[r.operator_id]
        if not points or points[-1].period != r.period:
            points.append(s.KpiPoint(period=r.period, calls=0, meetings=0))
        if r.kind == TouchKind.call:
            points[-1].calls += r.n
        else:
            points[-1].meetings += r.n

    currency = Order.amount["currency"].astext
    amount = _amount()
    deals: dict[int, list[s.DealAmounts]] = defaultdict(list)
    deal_counts: dict[int, int] = defaultdict(int)
    for r in await session.execute(
        select(
            Contact.owner_id,
            currency.label("currency"),
            func.count().label("deals"),
            func.count(amount).label("with_amount"),
            func.sum(amount).label("total"),
            func.avg(amount).label("average"),
        )
        .join(Contact, Contact.id == Order.contact_id)
        .where(
            Contact.owner_id.in_(ids),
            in_range(Order.created_at, f),
            Order.status.is_distinct_from(OrderStatus.cancelled.value),
        )
        .group_by(Contact.owner_id, currency)
        .order_by(Contact.owner_id, currency)
    ):
        deal_counts[r.owner_id] += r.deals
        deals[r.owner_id].append(
            s.DealAmounts(
                currency=r.currency,
                deals=r.deals,
                with_amount=r.with_amount,
                total=_money(r.total),
                average=_money(r.average),
            )
        )

    days = cast(extract("epoch", Contact.converted_at - Contact.created_at), Float) / DAY_SECONDS
    first = _first_direction()
    converted = in_range(Contact.converted_at, f)
    created = in_range(Contact.created_at, f)
    inbound, known = first == "inbound", first.is_not(None)
    sources = {
        r.owner_id: r
        for r in await session.execute(
            select(
                Contact.owner_id,
                func.count().filter(converted).label("conversions"),
                func.percentile_cont(0.5).within_group(days).filter(converted).label("median"),
                func.avg(days).filter(converted).label("mean"),
                func.count().filter(created, inbound).label("new_inbound"),
                func.count().filter(created, known, ~inbound).label("new_prospected"),
                func.count().filter(converted, inbound).label("won_inbound"),
                func.count().filter(converted, known, ~inbound).label("won_prospected"),
            )
            .where(Contact.owner_id.in_(ids), *managed_by(Contact.owner_id, f))
            .group_by(Contact.owner_id)
        )
    }
    rows = []
    for operator_id, name in people:
        src = sources.get(operator_id)
        rows.append(
            s.ManagerKpis(
                operator_id=operator_id,
                name=name,
                calls=logged[operator_id]["call"],
                meetings=logged[operator_id]["meeting"],
                deals=deal_counts.get(operator_id, 0),
                amounts=deals.get(operator_id, []),
                conversions=src.conversions if src else 0,
                days_to_deal_median=src.median if src else None,
                days_to_deal_mean=_float(src.mean) if src else None,
                new_inbound=src.new_inbound if src else 0,
                new_prospected=src.new_prospected if src else 0,
                won_inbound=src.won_inbound if src else 0,
                won_prospected=src.won_prospected if src else 0,
                series=series.get(operator_id, []),
            )
        )
    return s.Kpis(range=f.range, bucket=bucket.value, managers=rows)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(round(value, 2))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
