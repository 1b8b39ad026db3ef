"""The weekly plan (DOMAIN.md: 3 deals a week need about 15 contacts that week): each
manager's deals wanted, the contacts that needs at the configured ratio, and what the week
brought so far. A contact is a client the manager reached out to: a client touch of theirs
that is not the client writing in."""

import math

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.service import Filters, in_range
from app.contacts.models import Contact
from app.sales import schemas as s
from app.sales import settings
from app.sales.common import managers
from app.touchpoints.models import CLIENT_TOUCH_KINDS, Touchpoint


async def weekly_plan(session: AsyncSession, f: Filters) -> s.WeeklyPlan:
    ratio = float((await settings.current(session)).contacts_per_deal)
    people = await managers(session, f)
    ids = [i for i, _ in people]
    tp = Touchpoint
    reached = {
        r.operator_id: (r.contacts, r.touches)
        for r in await session.execute(
            select(
                tp.operator_id,
                func.count(distinct(tp.contact_id)).label("contacts"),
                func.count().label("touches"),
            )
            .where(
                tp.operator_id.in_(ids),
                tp.kind.in_(CLIENT_TOUCH_KINDS),
                tp.direction != "inbound",
                in_range(tp.occurred_at, f),
            )
            .group_by(tp.operator_id)
        )
    }
    won = {
        r.owner_id: r.n
        for r in await session.execute(
            select(Contact.owner_id, func.count().label("n"))
            .where(Contact.owner_id.in_(ids), in_range(Contact.converted_at, f))
            .group_by(Contact.owner_id)
        )
    }
    wanted = await settings.targets(session, ids)
    plans = []
    for operator_id, name in people:
        deals = wanted.get(operator_id)
        needed = math.ceil(deals * ratio) if deals is not None else None
        contacts, touches = reached.get(operator_id, (0, 0))
        plans.append(
            s.ManagerPlan(
                operator_id=operator_id,
                name=name,
                deals_wanted=deals,
                contacts_needed=needed,
                contacts_touched=contacts,
                touches=touches,
                deals_won=won.get(operator_id, 0),
                shortfall=max(0, needed - contacts) if needed is not None else None,
            )
        )
    return s.WeeklyPlan(range=f.range, contacts_per_deal=ratio, managers=plans)
