"""Lead routing: who gets a new conversation, the queue, and capacity.

The rule lives in SQL, one call per routing (app/routing/sql/route_conversation.sql, declared
in app/routing/sql.py): candidates, ranking by strategy, the claim and the assignment or the
queue happen in the server; this module calls it and raises the events it reports.

Correctness under concurrency rests on one rule: every path that gives a conversation to an
operator first locks that operator's row (FOR UPDATE), and only then counts their open
conversations in a new statement (chatcentre_claim_operator; chatcentre_operator_loads is
the one count). Two routings can therefore never both see "9 of 10" for the same person. A
routing takes no team-wide turn: it claims the best-ranked operator whose row nobody else
holds (SKIP LOCKED), so concurrent new leads go to different operators at once; only when
every operator with room is being claimed does it wait for the best of them. A claim that
turns out stale (the operator filled up meanwhile) keeps its lock until the transaction
ends (no subtransaction: see claim_operator.sql), and that transaction then never waits for
another operator's row, so no lock cycle forms. A transaction routes one conversation
(the timers and a mass release too: one transaction each), so it never holds one
operator's row while it waits for another's. Queued conversations are taken
with SKIP LOCKED, so two drains never hand out the same one."""

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.util import identity_key

from app.channels.models import ChannelAccount
from app.contacts.models import Category, Contact
from app.core.errors import Conflict, Invalid
from app.events.dispatch import actor_kind, from_stored, raise_event
from app.events.types import (
    ConversationAssigned,
    ConversationOwnerNotified,
    ConversationQueued,
    ConversationResponseMissed,
    ConversationUnassigned,
)
from app.inbox import rules as inbox_rules
from app.inbox.models import Conversation
from app.operators import visibility
from app.operators.models import Operator, Presence, Team
from app.operators.service import Principal


class Strategy(enum.StrEnum):
    balanced = "balanced"  # fewest open conversations; ties: longest since last assignment
    round_robin = "round_robin"  # longest since last assignment
    manual = "manual"  # a shared queue; operators take from it


@dataclass(frozen=True, slots=True)
class Policy:
    """A conversation's routing settings: its team's, else the built-in defaults (the
    same values a new team starts with)."""

    strategy: Strategy = Strategy.balanced
    response_target_seconds: int = 300
    max_reassignments: int = 2
    queue_alert_seconds: int = 600
    release_on_offline: bool = True
    lead_id: int | None = None


DEFAULT_POLICY = Policy()

# Queue order (both queries below): client category first (by the categories' position:
# A, B, C, D by default, then none), then waiting time.


@dataclass(slots=True)
class Load:
    operator_id: int
    open_count: int
    base_size: int
    max_open: int
    max_base: int
    last_assigned_at: datetime | None
    has_room: bool  # open conversations under their limit
    base_full: bool  # no room for a new lead in their live base


async def policy_for(session: AsyncSession, conv: Conversation) -> Policy:
    team = await session.get(Team, conv.team_id) if conv.team_id else None
    channel = await session.get(ChannelAccount, conv.channel_account_id)
    override = channel.settings.get("routing_strategy") if channel else None
    if team is None:
        return Policy(strategy=Strategy(override) if override else Strategy.balanced)
    return Policy(
        strategy=Strategy(override or team.strategy),
        response_target_seconds=team.response_target_seconds,
        max_reassignments=team.max_reassignments,
        queue_alert_seconds=team.queue_alert_seconds,
        release_on_offline=team.release_on_offline,
        lead_id=team.lead_id,
    )


# The one count of an operator's load (app/routing/sql/operator_loads.sql).
_LOADS = text("SELECT * FROM chatcentre_operator_loads(CAST(:ids AS bigint[]))")


async def lock_operators(session: AsyncSession, ids: list[int]) -> None:
    if ids:
        await session.execute(
            select(Operator.id).where(Operator.id.in_(ids)).order_by(Operator.id).with_for_update()
        )


async def loads(session: AsyncSession, ids: list[int]) -> dict[int, Load]:
    rows = (await session.execute(_LOADS, {"ids": ids})).all()
    return {
        r.id: Load(
            r.id,
            r.open_count,
            r.base_size,
            r.max_open,
            r.max_base,
            r.last_assigned_at,
            r.has_room,
            r.base_full,
        )
        for r in rows
    }


_ROUTE = text("""
SELECT * FROM chatcentre_route_conversation(
    :conversation_id, CAST(:exclude AS bigint[]), :queue_if_nobody, :now, :only_waiting,
    :actor_kind, true)
""")


async def route(
    session: AsyncSession,
    conversation_id: int,
    *,
    exclude: tuple[int, ...] = (),
    queue_if_nobody: bool = True,
    only_waiting: bool = False,
) -> int | None:
    """Give a conversation to the right operator, or queue it (or, with queue_if_nobody
    false, leave it as it is), in one call of chatcentre_route_conversation, which also
    stores the assignment's touch and event. only_waiting: only if it still waits for a
    person (unassigned, open, no bot). Returns the assignee."""
    await session.flush()  # the function must see this transaction's pending changes
    row = (
        await session.execute(
            _ROUTE,
            {
                "conversation_id": conversation_id,
                "exclude": list(exclude),
                "queue_if_nobody": queue_if_nobody,
                "now": datetime.now(UTC),
                "only_waiting": only_waiting,
                "actor_kind": actor_kind(session, None),
            },
        )
    ).one()
    await _reload(
        session,
        (Conversation, conversation_id),
        (Contact, row.o_contact_id),
        (Operator, row.o_assignee_id),
    )
    await raise_routed(
        session,
        conversation_id,
        assignee_id=row.o_assignee_id,
        queued=row.o_queued,
        event=row.o_event,
        notify_owner_id=row.o_notify_owner_id,
    )
    return cast(int | None, row.o_assignee_id)


async def raise_routed(
    session: AsyncSession,
    conversation_id: int,
    *,
    assignee_id: int | None,
    queued: bool | None,
    event: Any,
    notify_owner_id: int | None,
) -> None:
    """Raise what a call of chatcentre_route_conversation reports (its own, or the
    ingest's for the conversation it opened): the stored conversation.assigned or
    conversation.queued, and the owner's notice when someone else took their client."""
    if notify_owner_id is not None:
        await _notify_owner(session, conversation_id, notify_owner_id)
    if assignee_id is not None:
        await raise_event(session, from_stored(ConversationAssigned, event), stored=True)
    elif queued:
        await raise_event(session, from_stored(ConversationQueued, event), stored=True)


async def _reload(session: AsyncSession, *rows: tuple[type[Any], int | None]) -> None:
    """The SQL functions wrote these rows: refresh the copies this session holds, if any (the
    ingest's routing holds none, so it costs no round trip there)."""
    held = session.sync_session.identity_map
    for model, ident in rows:
        if ident is not None and (obj := held.get(identity_key(model, ident))) is not None:
            await session.refresh(obj)


async def _notify_owner(session: AsyncSession, conversation_id: int, owner_id: int) -> None:
    """The owner could not take it: tell them who did (or that it waits)."""
    await raise_event(
        session,
        ConversationOwnerNotified(conversation_id=conversation_id, notify_operator_id=owner_id),
    )


_ENQUEUE = text("""
SELECT * FROM chatcentre_enqueue_conversation(:conversation_id, :now, :actor_kind)
""")


async def enqueue(session: AsyncSession, conv: Conversation) -> None:
    """Back to the queue, keeping its place if it was already waiting (the event is stored
    by the same call)."""
    await session.flush()
    row = (
        await session.execute(
            _ENQUEUE,
            {
                "conversation_id": conv.id,
                "now": datetime.now(UTC),
                "actor_kind": actor_kind(session, None),
            },
        )
    ).one()
    await _reload(session, (Conversation, conv.id))
    await raise_event(session, from_stored(ConversationQueued, row.o_event), stored=True)


_ASSIGN = text("""
SELECT * FROM chatcentre_assign_conversation(
    :conversation_id, :operator_id, :now, :claims_lead, :reason, :by, :note, :actor_kind)
""")


async def assign(
    session: AsyncSession,
    conversation_id: int,
    operator_id: int,
    *,
    reason: str,
    by: int | None = None,
    note: str | None = None,
    claims_lead: bool = False,
) -> None:
    """Record an assignment, its touch and its event (the caller holds the operator's row
    lock and checked room). claims_lead: a client nobody owns becomes the operator's (unless
    their base is full)."""
    await session.flush()
    row = (
        await session.execute(
            _ASSIGN,
            {
                "conversation_id": conversation_id,
                "operator_id": operator_id,
                "now": datetime.now(UTC),
                "claims_lead": claims_lead,
                "reason": reason,
                "by": by,
                "note": note,
                "actor_kind": actor_kind(session, by),
            },
        )
    ).one()
    await _reload(
        session,
        (Conversation, conversation_id),
        (Contact, row.o_contact_id if claims_lead else None),
        (Operator, operator_id),
    )
    await raise_event(session, from_stored(ConversationAssigned, row.o_event), stored=True)


def _may_take(operator: str, base_full: str) -> str:
    """The queue rule, as SQL over `conversations c JOIN contacts ct` (_QUEUED_FROM): c waits
    in the queue and the operator `operator` (an SQL expression; `base_full` says whether
    their live base is full) may take it. One text for the drain's pick (_NEXT_QUEUED) and
    for finding who has anything to pick (_WHO_MAY_DRAIN)."""
    return f"""
c.assignee_id IS NULL AND {inbox_rules.not_closed("c.status")} AND c.queued_at IS NOT NULL
  AND COALESCE(ch.settings ->> 'routing_strategy', t.strategy, 'balanced') <> 'manual'
  -- Their own client whatever the team and channel, as routing's candidates.
  AND (ct.owner_id = {operator}
       OR ((c.team_id IS NULL
            OR EXISTS (SELECT 1 FROM team_members tm
                       WHERE tm.team_id = c.team_id AND tm.operator_id = {operator}))
           AND (NOT EXISTS (SELECT 1 FROM operator_channels oc
                            WHERE oc.operator_id = {operator})
                OR EXISTS (SELECT 1 FROM operator_channels oc
                           WHERE oc.operator_id = {operator}
                             AND oc.channel_account_id = c.channel_account_id))))
  -- A client whose manager could take them now is left to the manager (their routing,
  -- which may not have run yet, or their own drain), unless the manager declined it.
  AND NOT EXISTS (
      SELECT 1 FROM operators ow
      JOIN chatcentre_operator_loads(ARRAY[ct.owner_id]) l ON l.id = ow.id
      WHERE ow.id = ct.owner_id AND ow.id <> {operator} AND ow.is_active
        AND ow.presence = :online AND l.has_room
        AND c.declined_by IS DISTINCT FROM ow.id)
  AND (NOT {base_full} OR ct.owner_id IS NOT NULL)
  AND c.declined_by IS DISTINCT FROM {operator}"""  # noqa: S608  (callers pass our own SQL)


_QUEUED_FROM = """conversations c
JOIN contacts ct ON ct.id = c.contact_id
LEFT JOIN categories cat ON cat.code = ct.category
LEFT JOIN teams t ON t.id = c.team_id
LEFT JOIN channel_accounts ch ON ch.id = c.channel_account_id"""

# The client's row is taken too (skipped if locked, as the conversation's): the assignment
# may make them the operator's client, and waiting for it with the operator's and the
# conversation's rows held could deadlock with a message of theirs being stored.
_NEXT_QUEUED = text(f"""
SELECT c.id FROM {_QUEUED_FROM}
WHERE {_may_take(":operator_id", ":base_full")}
ORDER BY COALESCE(cat.position, 2147483647), c.queued_at, c.id
LIMIT 1
FOR UPDATE OF c, ct SKIP LOCKED
""")  # noqa: S608  (interpolated: app.inbox.rules' constant and this module's own SQL)

# The online operators with room who may take something waiting now, in one statement: the
# periodic drain visits only them (visiting each of 1,000 online consoles' operators, a
# transaction each, took seconds of CPU every round even with nothing to hand out).
_WHO_MAY_DRAIN = text(f"""
SELECT o.id FROM operators o
CROSS JOIN LATERAL chatcentre_operator_loads(ARRAY[o.id]) l
WHERE o.is_active AND o.presence = :online AND l.has_room
  AND (CAST(:among AS bigint[]) IS NULL OR o.id = ANY(CAST(:among AS bigint[])))
  AND EXISTS (SELECT 1 FROM {_QUEUED_FROM} WHERE {_may_take("o.id", "l.base_full")})
ORDER BY o.id
""")  # noqa: S608  (as _NEXT_QUEUED)


async def drain(session: AsyncSession, operator_id: int) -> list[int]:
    """Capacity freed up for this operator: hand them the next queued conversations."""
    op = await session.get(Operator, operator_id, with_for_update=True, populate_existing=True)
    if op is None or not op.is_active or op.presence != Presence.online:
        return []
    taken: list[int] = []
    while True:
        load = (await loads(session, [operator_id]))[operator_id]
        if not load.has_room:
            return taken
        conv_id = (
            await session.execute(
                _NEXT_QUEUED,
                {
                    "operator_id": operator_id,
                    "base_full": load.base_full,
                    "online": Presence.online,
                },
            )
        ).scalar()
        if conv_id is None:
            return taken
        await assign(session, conv_id, operator_id, reason="queue", claims_lead=True)
        taken.append(conv_id)


async def who_may_drain(session: AsyncSession, among: list[int] | None = None) -> list[int]:
    """The online operators with room for whom something waits in the queue (a snapshot:
    drain() checks again under the operator's lock); `among`: only these operators."""
    params = {"online": Presence.online, "among": among}
    return list((await session.scalars(_WHO_MAY_DRAIN, params)).all())


async def queue(
    session: AsyncSession,
    team_id: int | None = None,
    limit: int = 200,
    *,
    seen_by: Principal | None = None,
) -> list[tuple[int, int, datetime, str | None]]:
    """The waiting conversations in hand-out order: (position, conversation id, queued at,
    category). seen_by: only those this caller sees (app/operators/visibility.py); None: all."""
    q = (
        select(Conversation.id, Conversation.queued_at, Contact.category)
        .join(Contact, Contact.id == Conversation.contact_id)
        .outerjoin(Category, Category.code == Contact.category)
        .where(
            Conversation.assignee_id.is_(None),
            Conversation.status != inbox_rules.CLOSED,
            Conversation.queued_at.is_not(None),
        )
        .order_by(
            func.coalesce(Category.position, 2147483647), Conversation.queued_at, Conversation.id
        )
        .limit(limit)
    )
    if team_id is not None:
        q = q.where(Conversation.team_id == team_id)
    if seen_by is not None:
        q = q.where(*visibility.where(seen_by, Conversation))
    rows = (await session.execute(q)).all()
    return [(i + 1, r.id, r.queued_at, r.category) for i, r in enumerate(rows)]


async def all_loads(session: AsyncSession) -> list[tuple[Operator, Load]]:
    ops = list((await session.scalars(select(Operator).order_by(Operator.id))).all())
    by_id = await loads(session, [o.id for o in ops])
    return [(o, by_id[o.id]) for o in ops]


async def missed_response(session: AsyncSession, conv: Conversation) -> None:
    """The assignee did not answer in time: flag it and charge them one miss, then give it to
    someone else (up to the team's limit). When nobody else can take it, it goes to the team
    lead once, else it stays with the assignee: no new deadline, so the miss is not charged
    again (queueing it would hand it straight back to them and charge another miss)."""
    policy = await policy_for(session, conv)
    missed_by = conv.assignee_id
    conv.slow_response = True
    conv.response_due_at = None
    await raise_event(
        session,
        ConversationResponseMissed(
            conversation_id=conv.id,
            missed_by=missed_by,
            response_target_seconds=policy.response_target_seconds,
        ),
    )
    if conv.reassign_count < policy.max_reassignments:
        exclude = (missed_by,) if missed_by is not None else ()
        if await route(session, conv.id, exclude=exclude, queue_if_nobody=False) is not None:
            conv.reassign_count += 1
            await session.flush()
            return
    if policy.lead_id is not None and policy.lead_id != missed_by:
        await lock_operators(session, [policy.lead_id])
        await assign(session, conv.id, policy.lead_id, reason="escalated")
        conv.response_due_at = None  # the lead has it now; no further timer
    await session.flush()


async def release(sessions: async_sessionmaker[AsyncSession], operator_id: int) -> list[int]:
    """An operator went offline: their open conversations go back to routing where their
    team says so, each in a transaction of its own. A routing holds the operator it gave
    a conversation to until its commit; in one transaction for all, a release held its first
    pick while it waited for another's row, and a release in another team sharing those
    operators waited the other way (PostgreSQL aborted one). Stops if they come back."""
    async with sessions() as session:
        ids = list(
            await session.scalars(
                select(Conversation.id)
                .where(
                    Conversation.assignee_id == operator_id,
                    Conversation.status != inbox_rules.CLOSED,
                )
                .order_by(Conversation.id)
            )
        )
    moved = []
    for conversation_id in ids:
        async with sessions() as session:
            released = await _release_one(session, operator_id, conversation_id)
            await session.commit()
        if released is None:
            break
        if released:
            moved.append(conversation_id)
    return moved


async def _release_one(
    session: AsyncSession, operator_id: int, conversation_id: int
) -> bool | None:
    """Routes the conversation again if it is still the operator's and open and their team
    releases on going offline (True); False if not; None if the operator is online again."""
    if await session.scalar(select(Operator.presence).where(Operator.id == operator_id)) == (
        Presence.online
    ):
        return None
    # The client's row first, then the conversation's: the ingest's order (identity, client,
    # conversation), so a client writing while their chat is released waits instead of
    # deadlocking with its routing, which locks the client.
    await session.execute(
        select(Contact.id)
        .where(
            Contact.id
            == select(Conversation.contact_id)
            .where(Conversation.id == conversation_id)
            .scalar_subquery()
        )
        .with_for_update()
    )
    conv = await session.scalar(
        select(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.assignee_id == operator_id,
            Conversation.status != inbox_rules.CLOSED,
        )
        .with_for_update()
    )
    if conv is None or not (await policy_for(session, conv)).release_on_offline:
        return False
    await route(session, conv.id, exclude=(operator_id,))
    return True


async def assign_manually(
    session: AsyncSession, conv: Conversation, operator_id: int, *, by: int | None, note: str | None
) -> None:
    """An operator takes or is given a conversation: the same limits hold as for routing."""
    previous = conv.assignee_id
    await lock_operators(session, sorted({operator_id, *([previous] if previous else [])}))
    op = await session.get(Operator, operator_id)
    if op is None or not op.is_active:
        raise Invalid(f"Operator {operator_id} cannot take conversations", "unknown_operator")
    if previous != operator_id:
        load = (await loads(session, [operator_id]))[operator_id]
        if not load.has_room:
            raise Conflict(
                f"Operator {operator_id} is at their limit of {load.max_open} open conversations",
                "operator_at_capacity",
            )
    await assign(session, conv.id, operator_id, reason="manual", by=by, note=note)
    if previous is not None and previous != operator_id:
        await drain(session, previous)


async def unassign(
    session: AsyncSession, conv: Conversation, *, by: int | None, note: str | None
) -> None:
    """Back to the queue: routed at once to someone other than the previous assignee, or it
    waits. The previous assignee is remembered (declined_by) so no drain hands it back to
    them; the next assignment forgets it."""
    previous = conv.assignee_id
    await raise_event(
        session,
        ConversationUnassigned(
            conversation_id=conv.id, previous_assignee_id=previous, by=by, note=note
        ),
    )
    await enqueue(session, conv)
    conv.declined_by = previous
    await session.flush()
    await route(session, conv.id, exclude=(previous,) if previous is not None else ())
