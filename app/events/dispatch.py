"""Raising domain events and connecting handlers to them.

`on(...)` connects a handler to an event class (every `on` line lives in app/handlers.py,
the one place that knows who reacts to what). `raise_event(session, ev)` then, inside the
caller's transaction:
1. stores the event in domain_events if it is durable (unless the SQL that wrote the rows
   stored it already: `stored=True`), an `on_demand` one only while a webhook endpoint
   subscribes to it (the rule of app.events.sql, in the INSERT);
2. queues the legacy bus frame, published after commit (app.core.session), and the
   "after_commit" handlers, run by `run_after_commit(session, ctx)` once the caller has
   committed (a rollback drops them with the frames): the cause before its effects;
3. runs the "tx" handlers in registration order and awaits each; they may raise events
   themselves (bounded depth), and their writes commit or roll back with the caller's.

A service never calls another domain's side effect: it raises the fact, and the handlers do
the rest. Handler failures in the transaction propagate (the caller's transaction fails);
after-commit failures are logged (what they react to is already committed)."""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, TypeVar, overload

import orjson
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.after_answer import defer
from app.core.context import AppContext
from app.core.session import AFTER_COMMIT_KEY, publish_after_commit
from app.events.models import DomainEventRow
from app.events.sql import SUBSCRIBED
from app.events.types import DomainEvent

log = logging.getLogger(__name__)

E = TypeVar("E", bound=DomainEvent)
TxHandler = Callable[[AsyncSession, E], Awaitable[None]]
AfterCommitHandler = Callable[[AppContext, E], Awaitable[None]]
Phase = Literal["tx", "after_commit"]

MAX_DEPTH = 5  # events raised by handlers of events raised by handlers of ...
_DEPTH_KEY = "event_depth"
# Who caused the events a session raises when it is not a person's request (e.g.
# "automation"): stored as their actor_kind, so automation ignores its own effects.
ORIGIN_KEY = "event_origin"


class EventLoop(RuntimeError):
    """Handlers kept raising events deeper than MAX_DEPTH: almost surely a cycle."""


@dataclass(frozen=True, slots=True)
class _Handler:
    name: str
    phase: Phase
    call: Callable[[Any, Any], Awaitable[None]]


_handlers: dict[type[DomainEvent], list[_Handler]] = {}


@overload
def on(
    event: type[E], handler: TxHandler[E], *, name: str, phase: Literal["tx"] = "tx"
) -> None: ...


@overload
def on(
    event: type[E], handler: AfterCommitHandler[E], *, name: str, phase: Literal["after_commit"]
) -> None: ...


def on(
    event: type[E], handler: Callable[[Any, E], Awaitable[None]], *, name: str, phase: Phase = "tx"
) -> None:
    """Connect `handler` to `event`. Idempotent by name: connecting a name again replaces
    that handler in place (app start, worker start and tests may all install)."""
    found = _handlers.setdefault(event, [])
    entry = _Handler(name, phase, handler)
    for i, existing in enumerate(found):
        if existing.name == name:
            found[i] = entry
            return
    found.append(entry)


def off(event: type[DomainEvent], name: str) -> None:
    """Disconnect a handler by name (tests)."""
    _handlers[event] = [h for h in _handlers.get(event, []) if h.name != name]


def handlers_of(event: type[DomainEvent]) -> list[tuple[str, Phase]]:
    return [(h.name, h.phase) for h in _handlers.get(event, [])]


def from_stored(event: type[E], payload: Any) -> E:
    """The event whose payload a SQL function stored and returned (jsonb may reach us as
    text), to raise with stored=True."""
    value = orjson.loads(payload) if isinstance(payload, str | bytes) else payload
    assert isinstance(value, dict)
    return event(**value)


def actor_kind(session: AsyncSession, actor_id: int | None) -> str | None:
    """Who caused an event, as its domain_events row says: the session's origin (e.g.
    "automation") if it has one, else an operator when the event names one. SQL functions
    that store events are given this (e.g. chatcentre_assign_conversation)."""
    origin = session.info.get(ORIGIN_KEY)
    if origin is not None:
        return str(origin)
    return "operator" if actor_id is not None else None


def event_row(ev: DomainEvent, kind: str | None = None) -> DomainEventRow:
    return DomainEventRow(
        name=ev.name,
        version=ev.version,
        aggregate=ev.aggregate,
        aggregate_id=ev.aggregate_id(),
        actor_kind=kind,
        actor_id=ev.actor_id(),
        payload=ev.payload(),
    )


# An on_demand event's row, stored by the rule the SQL functions use (app.events.sql).
_STORE_ON_DEMAND = text(
    "INSERT INTO domain_events (name, version, aggregate, aggregate_id, actor_kind, actor_id, "
    "payload) SELECT CAST(:name AS text), CAST(:version AS smallint), CAST(:aggregate AS text), "
    "CAST(:aggregate_id AS bigint), CAST(:actor_kind AS text), CAST(:actor_id AS bigint), "
    f":payload WHERE {SUBSCRIBED}(CAST(:name AS text))"
).bindparams(bindparam("payload", type_=JSONB))


async def _store(session: AsyncSession, ev: DomainEvent) -> None:
    row = event_row(ev, actor_kind(session, ev.actor_id()))
    if not ev.on_demand:
        session.add(row)
        return
    await session.execute(
        _STORE_ON_DEMAND,
        {
            "name": row.name,
            "version": row.version,
            "aggregate": row.aggregate,
            "aggregate_id": row.aggregate_id,
            "actor_kind": row.actor_kind,
            "actor_id": row.actor_id,
            "payload": row.payload,
        },
    )


async def raise_event(session: AsyncSession, ev: DomainEvent, *, stored: bool = False) -> None:
    if ev.durable and not stored:
        await _store(session, ev)
    handlers = _handlers.get(type(ev), [])
    depth = session.info.get(_DEPTH_KEY, 0)
    if depth >= MAX_DEPTH:
        raise EventLoop(f"{ev.name} raised at depth {depth}: handlers keep raising events")
    # The cause's frame and after-commit work are queued before its handlers run, so the
    # consoles hear conversation.created before the conversation.assigned routing raises.
    frame = ev.bus()
    if frame is not None:
        publish_after_commit(session, frame)
    later = [(h, ev) for h in handlers if h.phase == "after_commit"]
    if later:
        session.info.setdefault(AFTER_COMMIT_KEY, []).extend(later)
    session.info[_DEPTH_KEY] = depth + 1
    try:
        for handler in handlers:
            if handler.phase == "tx":
                await handler.call(session, ev)
    finally:
        session.info[_DEPTH_KEY] = depth


async def run_after_commit(session: AsyncSession, ctx: AppContext) -> None:
    """Run the after-commit handlers the committed transaction queued, in order. Call it
    after `session.commit()`; what a failed one would have done is logged, not undone."""
    await _run(session.info.pop(AFTER_COMMIT_KEY, []), ctx)


async def _run(queued: list[tuple[_Handler, DomainEvent]], ctx: AppContext) -> None:
    for handler, ev in queued:
        try:
            await handler.call(ctx, ev)
        except Exception:
            log.exception("after-commit handler %s of %s failed", handler.name, ev.name)


async def commit_then_follow_up(
    session: AsyncSession, ctx: AppContext, *, after_answer: bool = False
) -> None:
    """Commit, then run the after-commit handlers the transaction queued (e.g. routing a
    conversation the ingest opened). With after_answer, inside a request, they run once its
    answer is sent (app/core/after_answer.py): the inbound paths answer the provider or the
    widget when the message is stored, not when its lead is routed. What a path that only
    commits leaves undone (or a process that dies before the follow-up) is taken up by the
    timers (the queue's drain), later."""
    await session.commit()
    queued: list[tuple[_Handler, DomainEvent]] = session.info.pop(AFTER_COMMIT_KEY, [])
    if not queued:
        return
    if after_answer and defer(partial(_run, queued, ctx)):
        return
    await _run(queued, ctx)
