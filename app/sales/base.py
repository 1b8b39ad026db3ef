"""Base health: each manager's live base against the configured band, the clients overdue
by their category's cadence (the cadence's own rule, app/touchpoints/cadence.py), and the
periodic review of the base (move up, move down, remove, or keep), each decision a
touchpoint in the client's history (chain "base_review", step: the decision)."""

from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.service import Filters, managed_by
from app.contacts import service as contacts_service
from app.contacts.models import Contact
from app.contacts.schemas import ContactUpdate
from app.core.errors import Invalid
from app.operators.service import Principal
from app.sales import schemas as s
from app.sales import settings
from app.sales.common import LIVE, managers
from app.touchpoints import cadence
from app.touchpoints import service as touchpoints
from app.touchpoints.models import TouchKind, Touchpoint

REVIEW_CHAIN = "base_review"
TOP_LEVEL, BOTTOM_LEVEL = 1, 5


def _reviewed_since(since: datetime) -> ColumnElement[bool]:
    return (
        select(Touchpoint.id)
        .where(
            Touchpoint.contact_id == Contact.id,
            Touchpoint.chain == REVIEW_CHAIN,
            Touchpoint.occurred_at >= since,
        )
        .correlate(Contact)
        .exists()
    )


def _due_review(now: datetime, period_days: int) -> list[ColumnElement[bool]]:
    return [
        Contact.owner_id.is_not(None),
        LIVE,
        ~_reviewed_since(now - timedelta(days=period_days)),
    ]


async def base_health(session: AsyncSession, f: Filters, on: date, now: datetime) -> s.BaseHealth:
    conf = await settings.current(session)
    people = await managers(session, f)
    ids = [i for i, _ in people]
    base = dict(
        (
            await session.execute(
                select(Contact.owner_id, func.count())
                .where(Contact.owner_id.in_(ids), LIVE)
                .group_by(Contact.owner_id)
            )
        ).all()
    )
    due = dict(
        (
            await session.execute(
                select(Contact.owner_id, func.count())
                .where(Contact.owner_id.in_(ids), *_due_review(now, conf.review_period_days))
                .group_by(Contact.owner_id)
            )
        ).all()
    )
    rows = []
    for operator_id, name in people:
        size = base.get(operator_id, 0)
        band = "below" if size < conf.base_min else "above" if size > conf.base_max else "within"
        plan = await cadence.cadence(session, operator_id, on, f.zone)
        late = [d for d in plan.overdue if d.what == "touch"]
        rows.append(
            s.ManagerBase(
                operator_id=operator_id,
                name=name,
                live_base=size,
                band=band,
                overdue=len(late),
                review_due=due.get(operator_id, 0),
                overdue_clients=late,
            )
        )
    return s.BaseHealth(
        on=on, timezone=f.zone, base_min=conf.base_min, base_max=conf.base_max, managers=rows
    )


async def review_list(session: AsyncSession, f: Filters, now: datetime, limit: int) -> s.ReviewList:
    conf = await settings.current(session)
    rows = (
        await session.execute(
            select(
                Contact.id,
                Contact.name,
                Contact.owner_id,
                Contact.category,
                Contact.priority_level,
                Contact.stage,
            )
            .where(*_due_review(now, conf.review_period_days), *managed_by(Contact.owner_id, f))
            .order_by(Contact.owner_id, Contact.priority_level.asc().nulls_last(), Contact.id)
            .limit(limit)
        )
    ).all()
    return s.ReviewList(
        review_period_days=conf.review_period_days,
        items=[s.ReviewItem.model_validate(r, from_attributes=True) for r in rows],
    )


async def decide(
    session: AsyncSession, principal: Principal, data: s.ReviewDecision
) -> s.ReviewOutcome:
    """Apply a review decision to a client the caller sees (through the contact card's own
    update, so its history and events follow) and log it as a touchpoint."""
    contact = await contacts_service.get_contact(session, principal, data.contact_id)
    if contact.owner_id is None:
        raise Invalid("The client is in nobody's base", "not_in_a_base")
    before = contact.priority_level
    change: dict[str, object] = {}
    if data.decision == "move_up":
        change["priority_level"] = max(TOP_LEVEL, (before or BOTTOM_LEVEL + 1) - 1)
    elif data.decision == "move_down" and before is not None:
        change["priority_level"] = min(BOTTOM_LEVEL, before + 1)
    elif data.decision == "remove":
        change["owner_id"] = None
    owner = contact.owner_id
    if change:
        await contacts_service.update_contact(
            session, principal, contact.id, ContactUpdate.model_validate(change)
        )
    after = change.get("priority_level", before)
    meta: dict[str, object] = {"level_from": before, "level_to": after}
    if data.decision == "remove":
        meta["owner_from"] = owner
    if data.note:
        meta["note"] = data.note
    touchpoint_id = await touchpoints.record(
        session,
        contact_id=contact.id,
        channel="crm",
        direction="internal",
        kind=TouchKind.note,
        operator_id=principal.operator_id,
        chain=REVIEW_CHAIN,
        step=data.decision,
        meta=meta,
    )
    return s.ReviewOutcome(
        contact_id=contact.id,
        decision=data.decision,
        priority_level=after,
        owner_id=None if data.decision == "remove" else owner,
        touchpoint_id=touchpoint_id,
    )
