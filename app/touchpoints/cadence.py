"""Cadence: which of a manager's clients are due a touch (or a call) on a day and which are
late, read from the touchpoint log, and the daily digest that tells each manager. It lives
beside the log it reads: the contact card (app/contacts) knows nothing of touchpoints."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.contacts.models import Category, Contact
from app.contacts.sql import in_live_base
from app.core.timezones import local_bucket
from app.events.dispatch import raise_event
from app.events.types import CadenceDigest
from app.operators.timezones import manager_zone
from app.touchpoints.models import CLIENT_TOUCH_KINDS, TouchKind, Touchpoint
from app.touchpoints.schemas import DueTouch


@dataclass(frozen=True, slots=True)
class Cadence:
    due_today: list[DueTouch]
    overdue: list[DueTouch]


def _last(kinds: list[TouchKind]) -> Any:
    return (
        select(func.max(Touchpoint.occurred_at))
        .where(Touchpoint.contact_id == Contact.id, Touchpoint.kind.in_(kinds))
        .correlate(Contact)
        .scalar_subquery()
    )


async def cadence(session: AsyncSession, operator_id: int, on: date, zone: str = "UTC") -> Cadence:
    """Who among this manager's clients is due a touch (or a call) on `on`, and who is late.
    The next touch is due `cadence_days` after the local day (in `zone`) of the last one, or
    of the day the client appeared: a touch at 01:30 in Moscow is that Moscow day's."""
    clients = (
        select(
            Contact.id,
            Contact.name,
            Contact.category,
            Contact.created_at,
            Category.cadence_days,
            Category.call_cadence_days,
            _last(list(CLIENT_TOUCH_KINDS)).label("last_touch"),
            _last([TouchKind.call]).label("last_call"),
        )
        .join(Category, Category.code == Contact.category)
        .where(Contact.owner_id == operator_id, in_live_base())
        .subquery()
    )
    c = clients.c
    rows = (
        await session.execute(
            select(
                c.id,
                c.name,
                c.category,
                c.cadence_days,
                c.call_cadence_days,
                c.last_touch,
                c.last_call,
                local_bucket(func.coalesce(c.last_touch, c.created_at), zone).label("touch_from"),
                local_bucket(func.coalesce(c.last_call, c.created_at), zone).label("call_from"),
            ).order_by(c.id)
        )
    ).all()
    due_today: list[DueTouch] = []
    overdue: list[DueTouch] = []
    for r in rows:
        plans: list[tuple[str, datetime | None, date, int]] = [
            ("touch", r.last_touch, r.touch_from, r.cadence_days)
        ]
        if r.call_cadence_days:
            plans.append(("call", r.last_call, r.call_from, r.call_cadence_days))
        for what, last, since, every in plans:
            due_on = since + timedelta(days=every)
            item = DueTouch(
                contact_id=r.id,
                name=r.name,
                category=r.category,
                what=what,
                last_at=last,
                due_on=due_on,
                days_overdue=max(0, (on - due_on).days),
            )
            if due_on == on:
                due_today.append(item)
            elif due_on < on:
                overdue.append(item)
    overdue.sort(key=lambda d: (-d.days_overdue, d.contact_id))
    return Cadence(due_today, overdue)


async def send_daily_digest(session: AsyncSession, on: date, default_zone: str = "UTC") -> int:
    """Once a day (whichever node gets there first): each manager's due and overdue counts
    as a `cadence.digest` event to their console. Returns how many managers were told."""
    claimed = await session.scalar(
        text(
            "INSERT INTO job_runs (name, run_on) VALUES ('cadence_digest', :on) "
            "ON CONFLICT DO NOTHING RETURNING name"
        ),
        {"on": on},
    )
    if claimed is None:
        return 0
    owners = await session.scalars(
        select(Contact.owner_id).where(Contact.owner_id.is_not(None)).distinct()
    )
    told = 0
    for operator_id in owners.all():
        assert operator_id is not None
        zone = await manager_zone(session, operator_id, default_zone)
        report = await cadence(session, operator_id, on, zone)
        if report.due_today or report.overdue:
            await raise_event(
                session,
                CadenceDigest(
                    notify_operator_id=operator_id,
                    on=on.isoformat(),
                    due_today=len(report.due_today),
                    overdue=len(report.overdue),
                ),
            )
            told += 1
    return told
