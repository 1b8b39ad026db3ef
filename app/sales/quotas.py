"""Plan vs fact of the priority levels' quotas (DOMAIN.md: each of 5 levels owes its
clients so many calls, meetings and messages per period).

For the week a report names, each client's period is the `period_days` of their level that
end with the week, so the report at the end of week W says whether the client got what
they are owed by then. The fact is every call and meeting with the client (either way)
and every message sent to them, by anyone: the client is owed contact, not a person."""

from collections import defaultdict

from sqlalchemy import ColumnElement, and_, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.service import Filters, managed_by, operator_names, prefer_indexes, share
from app.contacts.models import Contact, PriorityLevel
from app.sales import schemas as s
from app.sales.common import LIVE
from app.touchpoints.models import TouchKind, Touchpoint

KINDS = ("calls", "meetings", "messages")


def _fact_filters() -> dict[str, ColumnElement[bool]]:
    tp = Touchpoint
    personal = tp.direction != "internal"
    return {
        "calls": and_(tp.kind == TouchKind.call, personal),
        "meetings": and_(tp.kind == TouchKind.meeting, personal),
        "messages": and_(tp.kind == TouchKind.message, tp.direction == "outbound"),
    }


async def quotas(session: AsyncSession, f: Filters) -> s.Quotas:
    """f.start/f.end is the week; f's managers are the clients' owners."""
    await prefer_indexes(session)
    lv, tp = PriorityLevel, Touchpoint
    since = f.end - lv.period_days * literal_column("interval '1 day'")
    facts = _fact_filters()
    rows = (
        await session.execute(
            select(
                Contact.id,
                Contact.name,
                Contact.owner_id,
                lv.level,
                lv.name.label("level_name"),
                lv.calls,
                lv.meetings,
                lv.messages,
                *[func.count(tp.id).filter(facts[k]).label(f"done_{k}") for k in KINDS],
            )
            .join(lv, lv.level == Contact.priority_level)
            .outerjoin(
                tp,
                and_(tp.contact_id == Contact.id, tp.occurred_at >= since, tp.occurred_at < f.end),
            )
            .where(Contact.owner_id.is_not(None), LIVE, *managed_by(Contact.owner_id, f))
            .group_by(Contact.id, lv.level)
            .order_by(Contact.owner_id, lv.level, Contact.id)
        )
    ).all()
    owed: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
    met: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
    done: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KINDS, 0))
    clients: dict[int, int] = defaultdict(int)
    behind: list[s.ClientBehind] = []
    for r in rows:
        want = {k: getattr(r, k) for k in KINDS}
        got = {k: getattr(r, f"done_{k}") for k in KINDS}
        clients[r.owner_id] += 1
        for k in KINDS:
            owed[r.owner_id][k] += want[k]
            done[r.owner_id][k] += got[k]
            met[r.owner_id][k] += min(got[k], want[k])  # one client's extra covers no other
        missing = {k: want[k] - got[k] for k in KINDS if got[k] < want[k]}
        if missing:
            behind.append(
                s.ClientBehind(
                    contact_id=r.id,
                    name=r.name,
                    owner_id=r.owner_id,
                    level=r.level,
                    level_name=r.level_name,
                    owed=s.Counts(**want),
                    done=s.Counts(**got),
                    missing=s.Counts(**{k: missing.get(k, 0) for k in KINDS}),
                )
            )
    names = await operator_names(session, clients)
    per_manager = []
    for owner, n in clients.items():
        owed_total, met_total = sum(owed[owner].values()), sum(met[owner].values())
        per_manager.append(
            s.ManagerQuota(
                operator_id=owner,
                name=names.get(owner),
                clients=n,
                clients_behind=sum(1 for b in behind if b.owner_id == owner),
                owed=s.Counts(**owed[owner]),
                met=s.Counts(**met[owner]),
                done=s.Counts(**done[owner]),
                fulfilment=share(met_total, owed_total),
            )
        )
    per_manager.sort(key=lambda m: (m.fulfilment if m.fulfilment is not None else 2, m.operator_id))
    return s.Quotas(range=f.range, managers=per_manager, behind=behind)
