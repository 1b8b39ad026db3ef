"""Routing timers: missed response targets, queue alerts, and a periodic queue drain that
makes sure nothing waits while someone has room (e.g. a wake-up lost with a node)."""

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.context import AppContext
from app.core.periodic import Periodic
from app.events.dispatch import raise_event
from app.events.types import ConversationQueueAlert, ConversationStatusChanged
from app.inbox import rules as inbox_rules
from app.inbox.models import Conversation
from app.routing import service as routing_service

# The client's row too, skipped if locked (as the drain does): the reassignment locks the
# client, and waiting for it while holding the conversation could deadlock with a message
# of theirs being stored.
_DUE = text(f"""
SELECT c.id FROM conversations c JOIN contacts ct ON ct.id = c.contact_id
WHERE c.response_due_at <= now() AND {inbox_rules.not_closed("c.status")}
  AND c.assignee_id IS NOT NULL
ORDER BY c.response_due_at LIMIT 1
FOR UPDATE OF c, ct SKIP LOCKED
""")  # noqa: S608  (the one interpolated value is app.inbox.rules' constant)

_WAITING_TOO_LONG = text(f"""
SELECT c.id FROM conversations c LEFT JOIN teams t ON t.id = c.team_id
WHERE c.assignee_id IS NULL AND {inbox_rules.not_closed("c.status")} AND c.queued_at IS NOT NULL
  AND c.queue_alerted_at IS NULL
  AND c.queued_at <= now() - make_interval(secs => COALESCE(t.queue_alert_seconds, :default))
ORDER BY c.queued_at LIMIT :limit
FOR UPDATE OF c SKIP LOCKED
""")  # noqa: S608  (the one interpolated value is app.inbox.rules' constant)


async def run_missed_responses(sessions: async_sessionmaker[AsyncSession], limit: int = 50) -> int:
    """Each missed response in a transaction of its own. A reassignment claims an operator's
    row until its commit, so one transaction for all held the first one's operator while it
    waited for another's row, and a transaction waiting the other way (the other worker's
    round, a routing after a commit) closed a lock cycle: PostgreSQL aborted one of them."""
    handled = 0
    for _ in range(limit):
        async with sessions() as session:
            conv_id = (await session.execute(_DUE)).scalar()
            if conv_id is None:
                break
            conv = await session.get(Conversation, conv_id)
            assert conv is not None
            await routing_service.missed_response(session, conv)  # its deadline is cleared
            await session.commit()
        handled += 1
    return handled


async def run_queue_alerts(session: AsyncSession, limit: int = 50) -> int:
    ids = list(
        (
            await session.execute(
                _WAITING_TOO_LONG,
                {"limit": limit, "default": routing_service.DEFAULT_POLICY.queue_alert_seconds},
            )
        ).scalars()
    )
    for conv_id in ids:
        conv = await session.get(Conversation, conv_id)
        assert conv is not None
        conv.queue_alerted_at = datetime.now(UTC)
        await raise_event(
            session,
            ConversationQueueAlert(
                conversation_id=conv.id,
                contact_id=conv.contact_id,
                team_id=conv.team_id,
                queued_at=conv.queued_at.isoformat() if conv.queued_at else None,
            ),
        )
    return len(ids)


_SNOOZE_OVER = text("""
SELECT id FROM conversations
WHERE status = 'snoozed' AND snoozed_until <= now()
ORDER BY snoozed_until LIMIT :limit
FOR UPDATE SKIP LOCKED
""")


async def run_snooze_wakeups(session: AsyncSession, limit: int = 50) -> int:
    """A snoozed conversation whose time has come is open again (and on the live feed)."""
    ids = list((await session.execute(_SNOOZE_OVER, {"limit": limit})).scalars())
    for conv_id in ids:
        conv = await session.get(Conversation, conv_id)
        assert conv is not None
        conv.status = inbox_rules.OPENED
        conv.snoozed_until = None
        await raise_event(
            session,
            ConversationStatusChanged(
                conversation_id=conv.id, previous="snoozed", status=conv.status.value
            ),
        )
    return len(ids)


async def run_drain_all(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Every online operator with room takes what waits for them, each in a transaction of
    their own: one transaction for all held every operator's row until the last was served,
    and the routings of new leads waited for them (a p99 stall every round). Only those for
    whom something waits are visited (routing_service.who_may_drain)."""
    async with sessions() as session:
        operators = await routing_service.who_may_drain(session)
    handed = 0
    for operator_id in operators:
        async with sessions() as session:
            handed += len(await routing_service.drain(session, operator_id))
            await session.commit()
    return handed


class RoutingTimers(Periodic):
    def __init__(self, ctx: AppContext, interval: float = 1.0, drain_every: int = 10):
        super().__init__(ctx, interval)
        self.drain_every = drain_every
        self._rounds = 0

    async def tick(self, with_drain: bool) -> None:
        await run_missed_responses(self.ctx.sessions)
        for job in (run_queue_alerts, run_snooze_wakeups):
            async with self.ctx.sessions() as session:
                await job(session)
                await session.commit()
        if with_drain:
            await run_drain_all(self.ctx.sessions)

    async def round(self) -> None:
        n, self._rounds = self._rounds, self._rounds + 1
        await self.tick(with_drain=n % self.drain_every == 0)
