"""Running the rules: a consumer of the stored domain events (app.events.store), and the
"no reply for N minutes" timer.

Each (rule, occasion) runs at most once: the run's claim row (automation_runs, unique on
rule and occasion) is inserted before the actions, in their transaction. A redelivered event,
a second worker or a second node inserting the same claim waits for the first and then finds
it, so it skips. Events raised while a rule acts are stored with actor_kind "automation" and
ignored here: a rule's own message or change never triggers rules again. And a conversation
takes at most `automation_max_actions_per_minute` rule actions a minute (rows locked, so
concurrent rules count each other)."""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.automation import actions as executor
from app.automation.conditions import Facts, matches
from app.automation.models import AutomationRule, AutomationRun
from app.automation.schemas import (
    Action,
    Condition,
    ContactChangedTrigger,
    MessageCreatedTrigger,
    NoReplyTrigger,
    Trigger,
)
from app.business_hours import service as business_hours
from app.config import Settings
from app.contacts.models import Contact
from app.core.context import AppContext
from app.events import store
from app.events.dispatch import ORIGIN_KEY
from app.events.models import DomainEventRow
from app.inbox import rules as inbox_rules
from app.inbox.commands import queue_outgoing
from app.inbox.models import Conversation, ConversationStatus, Direction, Message, SenderType
from app.labels import service as labels_service

log = logging.getLogger(__name__)

CONSUMER = "automation"
ORIGIN = "automation"
# The stored event that fires each event trigger.
TRIGGER_OF_EVENT = {
    "conversation.created": "conversation.created",
    "message.created": "message.created",
    "conversation.resolved": "conversation.resolved",
    "contact.updated": "contact.changed",
}

TRIGGER = TypeAdapter[Trigger](Trigger)
CONDITIONS = TypeAdapter(list[Condition])
ACTIONS = TypeAdapter(list[Action])


@dataclass(frozen=True, slots=True)
class Happening:
    """What a trigger is checked against: a stored event, a timer or a dry run's sample."""

    trigger: str  # a trigger type
    direction: str | None = None  # message.created
    fields: tuple[str, ...] = ()  # contact.changed
    message_id: int | None = None
    text: str | None = None  # a dry run's sample text
    at: datetime | None = None  # when it happened (None: now)
    payload: dict[str, Any] = field(default_factory=dict)


def trigger_accepts(trigger: Trigger, what: Happening) -> bool:
    if trigger.type != what.trigger:
        return False
    match trigger:
        case MessageCreatedTrigger(include_outgoing=outgoing):
            # Notes never trigger; our own sends only when the rule asks for them.
            return what.direction == Direction.inbound or (
                outgoing and what.direction == Direction.outbound
            )
        case ContactChangedTrigger(fields=wanted):
            return bool(set(wanted) & set(what.fields))
    return True


async def active_rules(session: AsyncSession) -> list[AutomationRule]:
    rows = await session.scalars(
        select(AutomationRule)
        .where(AutomationRule.active.is_(True))
        .order_by(AutomationRule.position, AutomationRule.id)
    )
    return list(rows.all())


async def facts_for(session: AsyncSession, conv: Conversation, what: Happening) -> Facts:
    text = what.text
    if text is None and what.message_id is not None:
        text = await session.scalar(select(Message.text).where(Message.id == what.message_id))
    if text is None:  # the client's last message
        text = await session.scalar(
            select(Message.text)
            .where(Message.conversation_id == conv.id, Message.direction == Direction.inbound)
            .order_by(Message.id.desc())
            .limit(1)
        )
    contact = await session.get(Contact, conv.contact_id)
    labels = await labels_service.names_of(session, "conversation", conv.id)
    open_hours = await business_hours.is_open(session, conv.team_id, what.at or datetime.now(UTC))
    return Facts(conv, contact, text or "", tuple(labels), open_hours)


async def evaluate(
    session: AsyncSession, rule: AutomationRule, conv: Conversation, what: Happening
) -> list[tuple[Condition, bool]]:
    facts = await facts_for(session, conv, what)
    return [(c, matches(c, facts)) for c in CONDITIONS.validate_python(rule.conditions)]


async def _claim(
    session: AsyncSession, rule_id: int, occasion: str, conversation_id: int
) -> AutomationRun | None:
    run_id = await session.scalar(
        insert(AutomationRun)
        .values(rule_id=rule_id, occasion=occasion, conversation_id=conversation_id)
        .on_conflict_do_nothing(index_elements=["rule_id", "occasion"])
        .returning(AutomationRun.id)
    )
    return None if run_id is None else await session.get(AutomationRun, run_id)


async def _actions_in_last_minute(session: AsyncSession, conversation_id: int) -> int:
    used = await session.scalar(
        select(func.coalesce(func.sum(AutomationRun.actions_run), 0)).where(
            AutomationRun.conversation_id == conversation_id,
            AutomationRun.created_at > func.now() - timedelta(minutes=1),
        )
    )
    return int(used or 0)


async def run_rule(
    session: AsyncSession,
    settings: Settings,
    rule: AutomationRule,
    occasion: str,
    conversation_id: int,
    what: Happening,
) -> bool:
    """Run `rule` for one occasion if it was not run for it yet and its conditions hold.
    True if its actions ran. The caller commits."""
    if not trigger_accepts(TRIGGER.validate_python(rule.trigger), what):
        return False
    run = await _claim(session, rule.id, occasion, conversation_id)
    if run is None:
        return False  # already run (or running) for this occasion
    conv = await session.get(
        Conversation, conversation_id, with_for_update=True, populate_existing=True
    )
    if conv is None:
        return False
    if not all(ok for _, ok in await evaluate(session, rule, conv, what)):
        return False
    wanted = ACTIONS.validate_python(rule.actions)
    budget = settings.automation_max_actions_per_minute
    allowed = wanted[: max(0, budget - await _actions_in_last_minute(session, conv.id))]
    label = f"Rule «{rule.name}»"
    session.info[ORIGIN_KEY] = ORIGIN
    try:
        if allowed:
            await executor.run(
                session,
                conv,
                allowed,
                executor.Runner(
                    principal=executor.AUTOMATION,
                    label=label,
                    audit_action="automation.action",
                    source={"rule_id": rule.id},
                    key=f"automation/{rule.id}/{occasion}",
                    settings=settings,
                ),
            )
        if len(allowed) < len(wanted):
            await _note_cap(session, conv, rule, len(wanted) - len(allowed), budget)
    finally:
        session.info.pop(ORIGIN_KEY, None)
    run.actions_run = len(allowed)
    await session.flush()
    return True


async def _note_cap(
    session: AsyncSession, conv: Conversation, rule: AutomationRule, skipped: int, budget: int
) -> None:
    await audit.record(
        session,
        actor_kind="system",
        actor_id=None,
        action="automation.rate_capped",
        target_type="conversation",
        target_id=conv.id,
        details={"rule_id": rule.id, "skipped": skipped, "per_minute": budget},
    )
    await queue_outgoing(
        session,
        conv,
        text=f"Rule «{rule.name}»: {skipped} action(s) skipped, "
        f"the limit of {budget} automated actions a minute was reached",
        private=True,
        sender_type=SenderType.system,
        operator_id=None,
        external_id=None,
        meta={"automation": {"rule_id": rule.id, "rate_capped": skipped}},
    )


# --- the stored events ------------------------------------------------------------------


def happening_of(
    name: str, payload: dict[str, Any], at: datetime | None = None
) -> Happening | None:
    trigger = TRIGGER_OF_EVENT.get(name)
    if trigger is None:
        return None
    return Happening(
        trigger=trigger,
        direction=payload.get("direction"),
        fields=tuple(payload.get("fields") or ()),
        message_id=payload.get("message_id"),
        at=at,
        payload=payload,
    )


async def conversation_of(session: AsyncSession, what: Happening) -> int | None:
    """The conversation the rule acts on: the event's, or for a client's change their most
    recent active conversation (none: the rule has nothing to act on)."""
    if "conversation_id" in what.payload:
        return int(what.payload["conversation_id"])
    contact_id = what.payload.get("contact_id")
    if contact_id is None:
        return None
    return await session.scalar(
        select(Conversation.id)
        .where(
            Conversation.contact_id == contact_id,
            Conversation.status.in_(inbox_rules.ACTIVE_STATUSES),
        )
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(1)
    )


async def drain(ctx: AppContext, gaps: store.Gaps, batch: int = 200) -> int:
    """Run the rules for the stored events not yet handled, in order, each event in its own
    transaction with the consumer's position; the number of events read. Safe to run on any
    number of nodes at once (the claims decide). `gaps`: the reading loop's own, kept between
    rounds (app.events.store)."""
    async with ctx.sessions() as session:
        rules = await active_rules(session)
        triggers = {r.trigger.get("type") for r in rules}
        # Only the events a rule triggers on come with their payload (none while no rule is
        # active); the rest only move the position.
        wanted = [name for name, trigger in TRIGGER_OF_EVENT.items() if trigger in triggers]
        read = await store.read_since(session, CONSUMER, gaps, wanted, limit=batch)
        if read.after == 0:
            # The first run starts from now: a new installation's history fires nothing.
            newest = await session.scalar(select(func.max(DomainEventRow.id)))
            await store.advance(session, CONSUMER, newest or 0)
            await session.commit()
            read = await store.read_since(session, CONSUMER, gaps, wanted, limit=batch)
        if not read.events:  # nothing for a rule: only the position moves, in this transaction
            if read.last_id is not None:
                await store.advance(session, CONSUMER, read.last_id)
                await session.commit()
            return read.taken
    for ev in read.events:
        what = happening_of(ev.name, ev.payload, ev.occurred_at)
        if what is None or ev.actor_kind == ORIGIN:
            continue
        try:
            async with ctx.sessions() as session:
                conversation_id = await conversation_of(session, what)
                for rule in rules:
                    # A rule reacts to what happens after it was made, never to the past.
                    if conversation_id is not None and rule.created_at <= ev.occurred_at:
                        await _run_guarded(
                            session, ctx.settings, rule, ev.id, conversation_id, what
                        )
                await store.advance(session, CONSUMER, ev.id)
                await session.commit()
        except Exception:
            # A bug in one event's rules must not stop every later event: it is logged and
            # passed (its actions rolled back); the claims keep a retry from doubling.
            log.exception("automation rules for event %s failed; skipped", ev.id)
            if await _still_behind(ctx, ev.id):
                raise
    if read.last_id is not None:
        async with ctx.sessions() as session:
            await store.advance(session, CONSUMER, read.last_id)
            await session.commit()
    return read.taken


async def _run_guarded(
    session: AsyncSession,
    settings: Settings,
    rule: AutomationRule,
    event_id: int,
    conversation_id: int,
    what: Happening,
) -> None:
    """One rule in a savepoint: a rule that breaks (a body edited by hand in the database, a
    bug) is logged and undone, its claim too, and the next rules still run."""
    try:
        async with session.begin_nested():
            await run_rule(session, settings, rule, f"event:{event_id}", conversation_id, what)
    except Exception:
        log.exception("automation rule %s failed on event %s", rule.id, event_id)


async def _still_behind(ctx: AppContext, event_id: int) -> bool:
    """Move past a failed event; True if even that fails (the database is gone: retry)."""
    try:
        async with ctx.sessions() as session:
            await store.advance(session, CONSUMER, event_id)
            await session.commit()
    except Exception:
        return True
    return False


# --- the timer --------------------------------------------------------------------------


async def fire_no_reply(ctx: AppContext, batch: int = 100) -> int:
    """Run each "no reply for N minutes" rule once per conversation whose client has waited
    that long for a person's answer (open, not snoozed or waiting for the client)."""
    fired = 0
    async with ctx.sessions() as session:
        rules = [r for r in await active_rules(session) if r.trigger.get("type") == "no_reply"]
    for rule in rules:
        trigger = TRIGGER.validate_python(rule.trigger)
        assert isinstance(trigger, NoReplyTrigger)
        since = datetime.now(UTC) - timedelta(minutes=trigger.minutes)
        async with ctx.sessions() as session:
            due = await session.scalars(
                select(Conversation.id)
                .where(
                    Conversation.status == ConversationStatus.open,
                    Conversation.last_inbound_at < since,
                    or_(
                        Conversation.first_response_at.is_(None),
                        Conversation.first_response_at < Conversation.last_inbound_at,
                    ),
                    ~select(AutomationRun.id)
                    .where(
                        and_(
                            AutomationRun.rule_id == rule.id,
                            AutomationRun.occasion == func.concat("no_reply:", Conversation.id),
                        )
                    )
                    .exists(),
                )
                .order_by(Conversation.last_inbound_at)
                .limit(batch)
            )
            ids = list(due.all())
        for conversation_id in ids:
            async with ctx.sessions() as session:
                if await run_rule(
                    session,
                    ctx.settings,
                    rule,
                    f"no_reply:{conversation_id}",
                    conversation_id,
                    Happening(trigger="no_reply"),
                ):
                    fired += 1
                await session.commit()
    return fired
