"""Lead routing: who gets a new conversation, the queue, and capacity.

Correctness under concurrency rests on one rule: every path that gives a conversation to an
operator first locks that operator's row (FOR UPDATE), and only then counts their open
conversations in a new statement. Two routings can therefore never both see "9 of 10" for
the same person. A routing takes no team-wide turn: it ranks the candidates by the team's
strategy and claims the first whose row nobody else holds (SKIP LOCKED), so concurrent new
leads go to different operators at once instead of queueing behind one another; only when
every operator with room is being claimed does it wait for the best of them. A claim that
turns out stale (the operator filled up meanwhile) is rolled back to its savepoint, so a
routing holds at most the row of the operator it chose. Queued conversations are taken with
SKIP LOCKED, so two drains never hand out the same one."""

import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.contacts.models import Category, Contact
from app.core.errors import Conflict, Invalid
from app.events.dispatch import raise_event
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

    @property
    def has_room(self) -> bool:
        return self.open_count < self.max_open

    @property
    def base_full(self) -> bool:
        return self.base_size >= self.max_base


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


_CANDIDATES = text("""
SELECT o.id FROM operators o
WHERE o.is_active AND o.presence = 'online'
  AND (CAST(:team_id AS bigint) IS NULL
       OR o.id IN (SELECT operator_id FROM team_members WHERE team_id = :team_id))
  AND (NOT EXISTS (SELECT 1 FROM operator_channels oc WHERE oc.operator_id = o.id)
       OR EXISTS (SELECT 1 FROM operator_channels oc
                  WHERE oc.operator_id = o.id AND oc.channel_account_id = :channel_id))
  AND NOT (o.id = ANY(CAST(:exclude AS bigint[])))
ORDER BY o.id
""")

# A separate statement after the lock, so it sees every assignment committed before it.
_LOADS = text(f"""
SELECT o.id, o.max_open_conversations, o.max_base_size, o.last_assigned_at,
       (SELECT count(*) FROM conversations c
        WHERE c.assignee_id = o.id AND {inbox_rules.not_closed("c.status")}) AS open_count,
       (SELECT count(*) FROM contacts ct
        WHERE ct.owner_id = o.id AND chatcentre_in_live_base(ct.owner_id, ct.stage)) AS base_size
FROM operators o WHERE o.id = ANY(CAST(:ids AS bigint[]))
""")  # noqa: S608  (the one interpolated value is app.inbox.rules' constant)


_ROUTING_LOCK = 0x726F7574  # advisory lock namespace ("rout"); the second key is the team


async def lock_team_routing(session: AsyncSession, team_ids: list[int | None]) -> None:
    """Take the routing turn of these teams (0: conversations without a team) until the
    transaction ends, in one order so two transactions never wait on each other. Only a
    mass release takes it: it holds the rows of every operator it gave a conversation to
    while it routes the next one, so two releases must not interleave. A single routing
    never takes it."""
    for team in sorted({t or 0 for t in team_ids}):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, CAST(:team AS integer))"),
            {"ns": _ROUTING_LOCK, "team": team},
        )


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
            r.max_open_conversations,
            r.max_base_size,
            r.last_assigned_at,
        )
        for r in rows
    }


def _rank(strategy: Strategy, options: list[Load]) -> list[Load]:
    """The operators in the order the strategy prefers them (manual: nobody)."""
    if strategy == Strategy.manual:
        return []
    never = datetime.min.replace(tzinfo=UTC)

    def waited(load: Load) -> tuple[datetime, int]:
        return (load.last_assigned_at or never, load.operator_id)

    if strategy == Strategy.balanced:
        return sorted(options, key=lambda o: (o.open_count, *waited(o)))
    return sorted(options, key=waited)


async def route(
    session: AsyncSession,
    conversation_id: int,
    *,
    exclude: tuple[int, ...] = (),
    queue_if_nobody: bool = True,
) -> int | None:
    """Give a conversation to the right operator, or queue it (or, with queue_if_nobody
    false, leave it as it is). Returns the assignee."""
    conv = await session.get(Conversation, conversation_id, with_for_update=True)
    assert conv is not None
    if conv.status == inbox_rules.WITH_BOT:
        return None  # an agent bot answers it; its handoff routes it
    contact = await session.get(Contact, conv.contact_id)
    assert contact is not None
    policy = await policy_for(session, conv)

    candidate_ids = list(
        (
            await session.execute(
                _CANDIDATES,
                {
                    "team_id": conv.team_id,
                    "channel_id": conv.channel_account_id,
                    "exclude": list(exclude),
                },
            )
        ).scalars()
    )
    owner_id = contact.owner_id
    if owner_id is not None and owner_id not in candidate_ids and owner_id not in exclude:
        owner = await session.get(Operator, owner_id)
        if owner is not None and owner.is_active and owner.presence == Presence.online:
            candidate_ids.append(owner_id)
    is_new_lead = owner_id is None

    # Rank by the loads, then claim: lock the chosen row and count again (a concurrent
    # routing, a drain or a manual assignment may have filled them meanwhile; the count after
    # the lock is exact). Rows another routing holds are skipped, and waited for only when
    # nobody else with room is free. A stale claim is dropped and we rank again.
    while candidate_ids:
        ranked = _ranked(policy, await loads(session, candidate_ids), owner_id, is_new_lead)
        if not ranked:
            break
        busy: list[tuple[int, str]] = []
        for chosen_id, reason in ranked:
            locked, fit = await _claim(session, chosen_id, reason, is_new_lead, wait=False)
            if fit is not None:
                return await _give(session, conv, contact, chosen_id, reason, fit)
            if locked:
                candidate_ids.remove(chosen_id)
                break
            busy.append((chosen_id, reason))
        else:
            if not busy:
                break
            chosen_id, reason = busy[0]
            _, fit = await _claim(session, chosen_id, reason, is_new_lead, wait=True)
            if fit is not None:
                return await _give(session, conv, contact, chosen_id, reason, fit)
            candidate_ids.remove(chosen_id)

    if not queue_if_nobody:
        return None
    if owner_id is not None:
        await _notify_owner(session, conv.id, owner_id)
    await enqueue(session, conv)
    return None


async def _claim(
    session: AsyncSession,
    operator_id: int,
    reason: str,
    is_new_lead: bool,
    *,
    wait: bool,
) -> tuple[bool, Load | None]:
    """Lock the operator's row and check, from counts taken after the lock, that they can
    take the conversation: (row locked, their load when they can). Without wait a row
    another transaction holds is skipped; a row locked in vain is given back with the
    savepoint, so a routing never holds an operator it did not choose while it waits."""
    savepoint = await session.begin_nested()
    op = (
        await session.execute(
            select(Operator)
            .where(Operator.id == operator_id)
            .with_for_update(skip_locked=not wait)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if op is None:
        await savepoint.rollback()
        return False, None
    fresh = (await loads(session, [operator_id]))[operator_id]
    if (
        not op.is_active
        or op.presence != Presence.online
        or not fresh.has_room
        or (reason != "owner" and is_new_lead and fresh.base_full)
    ):
        await savepoint.rollback()
        return True, None
    await savepoint.commit()
    return True, fresh


async def _give(
    session: AsyncSession,
    conv: Conversation,
    contact: Contact,
    operator_id: int,
    reason: str,
    load: Load,
) -> int:
    owner_id = contact.owner_id
    if reason != "owner" and owner_id is not None:
        await _notify_owner(session, conv.id, owner_id)
    await assign(session, conv, operator_id, reason=reason)
    if owner_id is None and not load.base_full:
        await session.execute(
            update(Contact)
            .where(Contact.id == contact.id, Contact.owner_id.is_(None))
            .values(owner_id=operator_id)
        )
    return operator_id


def _ranked(
    policy: Policy, current: dict[int, Load], owner_id: int | None, is_new_lead: bool
) -> list[tuple[int, str]]:
    """(operator, reason) in the order to try them: the client's manager when they have room
    (a returning client goes back to them), then the others by the team's strategy."""
    first = (
        [(owner_id, "owner")]
        if owner_id is not None and owner_id in current and current[owner_id].has_room
        else []
    )
    options = [
        load
        for load in current.values()
        if load.has_room and not (is_new_lead and load.base_full) and load.operator_id != owner_id
    ]
    return first + [(o.operator_id, policy.strategy.value) for o in _rank(policy.strategy, options)]


async def _notify_owner(session: AsyncSession, conversation_id: int, owner_id: int) -> None:
    """The owner could not take it: tell them who did (or that it waits)."""
    await raise_event(
        session,
        ConversationOwnerNotified(conversation_id=conversation_id, notify_operator_id=owner_id),
    )


async def enqueue(session: AsyncSession, conv: Conversation) -> None:
    previous = conv.assignee_id
    conv.assignee_id = None
    conv.assigned_at = None
    conv.response_due_at = None
    if conv.queued_at is None:
        conv.queued_at = datetime.now(UTC)
        conv.queue_alerted_at = None
    await session.flush()
    await raise_event(
        session, ConversationQueued(conversation_id=conv.id, previous_assignee_id=previous)
    )


# The answer deadline has one home, the SQL function the ingest starts the clock with
# (app/routing/sql/response_due_at.sql): the team's response target, else DEFAULT_POLICY's.
_RESPONSE_DUE_AT = text("SELECT due_at FROM chatcentre_response_due_at(:team_id, :now)")


async def assign(
    session: AsyncSession,
    conv: Conversation,
    operator_id: int,
    *,
    reason: str,
    by: int | None = None,
    note: str | None = None,
) -> None:
    """Record an assignment (the caller holds the operator's row lock and checked room)."""
    now = datetime.now(UTC)
    previous = conv.assignee_id
    conv.assignee_id = operator_id
    conv.assigned_at = now
    conv.declined_by = None
    conv.queued_at = None
    conv.queue_alerted_at = None
    conv.response_due_at = (
        await session.scalar(_RESPONSE_DUE_AT, {"team_id": conv.team_id, "now": now})
        if inbox_rules.awaiting_reply(conv)
        else None
    )
    await session.execute(
        update(Operator).where(Operator.id == operator_id).values(last_assigned_at=now)
    )
    await session.flush()
    await raise_event(
        session,
        ConversationAssigned(
            conversation_id=conv.id,
            assignee_id=operator_id,
            previous_assignee_id=previous,
            reason=reason,
            by=by,
            note=note,
        ),
    )


_NEXT_QUEUED = text(f"""
SELECT c.id FROM conversations c
JOIN contacts ct ON ct.id = c.contact_id
LEFT JOIN categories cat ON cat.code = ct.category
LEFT JOIN teams t ON t.id = c.team_id
LEFT JOIN channel_accounts ch ON ch.id = c.channel_account_id
WHERE c.assignee_id IS NULL AND {inbox_rules.not_closed("c.status")} AND c.queued_at IS NOT NULL
  AND COALESCE(ch.settings ->> 'routing_strategy', t.strategy, 'balanced') <> 'manual'
  AND (c.team_id IS NULL
       OR EXISTS (SELECT 1 FROM team_members tm
                  WHERE tm.team_id = c.team_id AND tm.operator_id = :operator_id))
  AND (NOT EXISTS (SELECT 1 FROM operator_channels oc WHERE oc.operator_id = :operator_id)
       OR EXISTS (SELECT 1 FROM operator_channels oc
                  WHERE oc.operator_id = :operator_id
                    AND oc.channel_account_id = c.channel_account_id))
  AND (NOT :base_full OR ct.owner_id IS NOT NULL)
  AND c.declined_by IS DISTINCT FROM :operator_id
ORDER BY COALESCE(cat.position, 2147483647), c.queued_at, c.id
LIMIT 1
FOR UPDATE OF c SKIP LOCKED
""")  # noqa: S608  (the one interpolated value is app.inbox.rules' constant)


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
                },
            )
        ).scalar()
        if conv_id is None:
            return taken
        conv = await session.get(Conversation, conv_id)
        assert conv is not None
        await assign(session, conv, operator_id, reason="queue")
        contact = await session.get(Contact, conv.contact_id)
        if contact is not None and contact.owner_id is None and not load.base_full:
            contact.owner_id = operator_id
            await session.flush()
        taken.append(conv_id)


async def online_with_room(session: AsyncSession) -> list[int]:
    rows = await session.scalars(
        select(Operator.id).where(Operator.is_active, Operator.presence == Presence.online)
    )
    return list(rows.all())


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
        await assign(session, conv, policy.lead_id, reason="escalated")
        conv.response_due_at = None  # the lead has it now; no further timer
    await session.flush()


async def release(session: AsyncSession, operator_id: int) -> list[int]:
    """An operator went offline: their open conversations go back to routing where their
    team says so."""
    convs = list(
        (
            await session.scalars(
                select(Conversation)
                .where(
                    Conversation.assignee_id == operator_id,
                    Conversation.status != inbox_rules.CLOSED,
                )
                .order_by(Conversation.id)
                .with_for_update()
            )
        ).all()
    )
    # Every team's routing turn first, in order: taking one after holding an operator's
    # row (from routing the previous conversation) could wait on a routing that waits for us.
    await lock_team_routing(session, [c.team_id for c in convs])
    moved = []
    for conv in convs:
        if not (await policy_for(session, conv)).release_on_offline:
            continue
        await route(session, conv.id, exclude=(operator_id,))
        moved.append(conv.id)
    return moved


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
    await assign(session, conv, operator_id, reason="manual", by=by, note=note)
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
