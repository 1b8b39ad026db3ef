"""Bus frames are collected on the session and published only after its transaction commits.

`app.events.dispatch.raise_event` queues a typed event's frame here (`publish_after_commit`);
a rollback discards what was queued, and the after-commit work `run_after_commit` would do.
Payloads carry ids only: the receivers read the current rows, so an event can never show
uncommitted or stale data."""

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

Event = dict[str, Any]
_KEY = "pending_events"
# Work queued for after a successful commit (app.events.dispatch); a rollback drops it.
AFTER_COMMIT_KEY = "after_commit"

# Whoever these name loses their open sockets on every node (closed 4401 token_revoked):
# a contact's widget sessions ended, or an operator logged out, changed password, was
# deactivated or given another role. The hub closes them (app/realtime/hub.py).
VISITOR_SESSIONS_REVOKED = "visitor.sessions_revoked"  # contact_id
OPERATOR_SESSIONS_REVOKED = "operator.sessions_revoked"  # operator_id


def publish_after_commit(session: AsyncSession | Session, frame: Event) -> None:
    session.info.setdefault(_KEY, []).append(frame)


def make_session_class(publish: Callable[[list[Event]], None]) -> type[Session]:
    """A Session subclass whose commits hand their events to `publish` (non-blocking)."""

    class EventSession(Session):
        pass

    @event.listens_for(EventSession, "after_commit")
    def _after_commit(session: Session) -> None:
        pending = session.info.pop(_KEY, None)
        if pending:
            publish(pending)

    @event.listens_for(EventSession, "after_rollback")
    def _after_rollback(session: Session) -> None:
        session.info.pop(_KEY, None)
        session.info.pop(AFTER_COMMIT_KEY, None)

    return EventSession
