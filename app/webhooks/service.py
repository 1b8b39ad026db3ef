"""Endpoints and their deliveries: enqueueing (the one function other modules call), the
fan-out of stored domain events to subscribed endpoints, and redelivery."""

import base64
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.core.errors import NotFound
from app.events import store
from app.webhooks.events import SUBSCRIBABLE, body
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

CONSUMER = "webhooks.fanout"  # its position in event_consumers
# One fan-out at a time across processes (a transaction-scoped advisory lock).
_FANOUT_LOCK = 0x5E4E


WEBHOOK = "webhook"  # an admin's subscription; other kinds are scoped (register_scope)

Scope = Callable[[AsyncSession, WebhookEndpoint, Sequence[store.StoredEvent]], Awaitable[set[int]]]
"""Which of these events (their ids) an endpoint of a kind gets, beyond its subscription."""
_scopes: dict[str, Scope] = {}


def register_scope(kind: str, scope: Scope) -> None:
    """Endpoints of `kind` get only the events `scope` lets through (connected by the
    composition root, app/handlers.py: an agent bot gets its own conversations' events)."""
    _scopes[kind] = scope


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_of(endpoint: WebhookEndpoint) -> str:
    value = endpoint.secret.get("secret")
    assert isinstance(value, str)
    return value


async def enqueue(
    session: AsyncSession,
    endpoint_id: int,
    event_type: str,
    data: dict[str, Any],
    *,
    settings: Settings,
    conversation_id: int | None = None,
    event_id: int | None = None,
    occurred_at: datetime | None = None,
) -> WebhookDelivery | None:
    """Queue one delivery to one endpoint in the caller's transaction (it is sent after
    commit by the senders, with retries). Other modules (the automation rules' "send a
    webhook") call this. `event_id`: the stored domain event, at most one delivery per
    endpoint (None when it was delivered already). Deliveries of one conversation arrive in
    the order they were enqueued."""
    at = occurred_at or datetime.now(UTC)
    message_id = f"evt_{event_id}" if event_id is not None else f"msg_{uuid.uuid4().hex}"
    stmt = (
        insert(WebhookDelivery)
        .values(
            endpoint_id=endpoint_id,
            event_id=event_id,
            message_id=message_id,
            event_type=event_type,
            conversation_id=conversation_id,
            body=body(event_type, data, at),
            give_up_at=datetime.now(UTC) + timedelta(seconds=settings.webhook_retry_window_seconds),
        )
        .on_conflict_do_nothing(
            index_elements=["endpoint_id", "event_id"],
            index_where=text("event_id IS NOT NULL"),
        )
        .returning(WebhookDelivery)
    )
    return (await session.scalars(stmt)).one_or_none()


def _conversation_of(row: store.StoredEvent) -> int | None:
    if row.aggregate == "conversation":
        return row.aggregate_id
    value = row.payload.get("conversation_id")
    return value if isinstance(value, int) else None


async def fan_out(
    session: AsyncSession, settings: Settings, gaps: store.Gaps, limit: int = 1000
) -> int:
    """Turn the next stored events into deliveries for the active endpoints subscribed to
    them (each endpoint gets the events that happened after it was created), and move the
    consumer's position, all in the caller's transaction: a crash before commit redoes
    the batch, and the unique index keeps it from delivering twice. Returns the number of
    events taken (0: caught up, or waiting for a gap)."""
    locked = await session.scalar(select(func.pg_try_advisory_xact_lock(_FANOUT_LOCK)))
    if not locked:
        return 0
    endpoints = (
        await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.is_active))
    ).all()
    # Only the events some endpoint subscribes to come with their payload; the rest only
    # move the position.
    wanted = {name for endpoint in endpoints for name in endpoint.events} & set(SUBSCRIBABLE)
    batch = await store.read_since(session, CONSUMER, gaps, wanted, limit=limit)
    if batch.last_id is None:
        return 0
    events = batch.events
    allowed: dict[int, set[int]] = {}
    for endpoint in endpoints:
        if endpoint.kind != WEBHOOK:
            scope = _scopes.get(endpoint.kind)
            allowed[endpoint.id] = await scope(session, endpoint, events) if scope else set()
    for ev in events:
        for endpoint in endpoints:
            if endpoint.id in allowed and ev.id not in allowed[endpoint.id]:
                continue
            if ev.name in endpoint.events and ev.occurred_at >= endpoint.created_at:
                await enqueue(
                    session,
                    endpoint.id,
                    ev.name,
                    {"event_id": ev.id, **ev.payload},
                    settings=settings,
                    conversation_id=_conversation_of(ev),
                    event_id=ev.id,
                    occurred_at=ev.occurred_at,
                )
    await store.advance(session, CONSUMER, batch.last_id)
    return batch.taken


async def get_endpoint(
    session: AsyncSession, endpoint_id: int, kind: str = WEBHOOK
) -> WebhookEndpoint:
    found = await session.get(WebhookEndpoint, endpoint_id)
    if found is None or found.kind != kind:
        raise NotFound("No such webhook", code="webhook_not_found")
    return found


async def delete_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint and its deliveries. The deliveries are locked first, in the order
    the sender takes its locks (a delivery, then its endpoint): deleting the endpoint first
    and its deliveries by cascade deadlocked with a send in flight."""
    await session.execute(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id)
        .with_for_update()
    )
    await session.delete(endpoint)


async def redeliver(
    session: AsyncSession, endpoint_id: int, delivery_id: int, settings: Settings
) -> WebhookDelivery:
    """Send a delivery again (same webhook-id), now, with a fresh retry window."""
    found = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if found is None or found.endpoint_id != endpoint_id:
        raise NotFound("No such delivery", code="delivery_not_found")
    now = datetime.now(UTC)
    found.status = DeliveryStatus.pending
    found.next_attempt_at = now
    found.give_up_at = now + timedelta(seconds=settings.webhook_retry_window_seconds)
    found.claimed_until = None
    return found
