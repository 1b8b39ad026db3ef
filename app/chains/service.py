"""Orders and their status events: the delivery chain of DOMAIN.md. An event moves the order
along the chain and notifies the client once per step; repeats and late events change
nothing the client sees."""

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.chains import notify
from app.chains.contacts import find_or_create_contact
from app.chains.models import (
    RANK,
    ChainTemplate,
    ChainWatchdog,
    Order,
    OrderEvent,
    OrderStatus,
)
from app.chains.schemas import (
    ChainTemplateWrite,
    CourierWindow,
    EventResult,
    OrderEventCreate,
    OrderPut,
)
from app.chains.templates import (
    FEEDBACK,
    LANGUAGES,
    OVERDUE,
    TEMPLATE_KEYS,
    check_text,
    format_date,
    format_window,
    greeting_name,
    render,
)
from app.core.errors import Conflict, Invalid, NotFound
from app.events.dispatch import raise_event
from app.events.types import OrderStatusChanged
from app.surveys import service as surveys_service

PROMISED_DATE = "promised_date"  # the watchdog kind
WATCHDOG_EVENT = "watchdog:promised_date"


def tracking_url(public_url: str, order: Order) -> str:
    return f"{public_url.rstrip('/')}/track/{order.tracking_token}"


def promise_due(promised: date, delay_days: int = 0) -> datetime:
    """The promise is broken once the promised day (plus an announced delay) is over (UTC)."""
    return datetime.combine(promised + timedelta(days=delay_days + 1), time.min, UTC)


# ---------------------------------------------------------------- orders


async def get_order(session: AsyncSession, external_id: str, *, lock: bool = False) -> Order:
    q = select(Order).where(Order.external_id == external_id)
    if lock:
        q = q.with_for_update()
    order = await session.scalar(q)
    if order is None:
        raise NotFound(f"Order {external_id!r} not found", "unknown_order")
    return order


async def events_of(session: AsyncSession, order_id: int) -> list[OrderEvent]:
    rows = await session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
    )
    return list(rows.all())


async def put_order(session: AsyncSession, external_id: str, data: OrderPut) -> tuple[Order, bool]:
    """Create or update an order. Returns (order, created)."""
    contact_id = await find_or_create_contact(session, data.client, data.first_name)
    values: dict[str, Any] = {
        "contact_id": contact_id,
        "language": data.language,
        "first_name": data.first_name,
        "items": data.items,
        "amount": data.amount,
        "promised_date": data.promised_date,
    }
    created_id = await session.scalar(
        pg_insert(Order)
        .values(external_id=external_id, tracking_token=secrets.token_urlsafe(24), **values)
        .on_conflict_do_nothing(index_elements=["external_id"])
        .returning(Order.id)
    )
    order = await get_order(session, external_id, lock=True)
    previous_date = None if created_id is not None else order.promised_date
    for name, value in values.items():
        setattr(order, name, value)
    order.updated_at = datetime.now(UTC)
    await session.flush()
    if data.promised_date is not None and (
        created_id is not None or previous_date != data.promised_date
    ):
        await _arm_promise_watchdog(session, order, promise_due(data.promised_date))
    return order, created_id is not None


async def _arm_promise_watchdog(session: AsyncSession, order: Order, due: datetime) -> None:
    """(Re)arm the promised-date watchdog; a new promise may be broken again."""
    await session.execute(
        pg_insert(ChainWatchdog)
        .values(order_id=order.id, kind=PROMISED_DATE, due_at=due)
        .on_conflict_do_update(
            index_elements=["order_id", "kind"], set_={"due_at": due, "done_at": None}
        )
    )


async def _disarm_promise_watchdog(session: AsyncSession, order: Order, now: datetime) -> None:
    await session.execute(
        update(ChainWatchdog)
        .where(
            ChainWatchdog.order_id == order.id,
            ChainWatchdog.kind == PROMISED_DATE,
            ChainWatchdog.done_at.is_(None),
        )
        .values(done_at=now)
    )


# ---------------------------------------------------------------- events


def variables(order: Order, public_url: str, payload: dict[str, Any]) -> dict[str, str]:
    window = ""
    if payload.get("window"):
        w = CourierWindow.model_validate(payload["window"])
        window = format_window(w.start, w.end, order.language)
    return {
        "order": order.external_id,
        "first_name": greeting_name(order.first_name, order.language),
        "date": format_date(order.promised_date, order.language),
        "delay_days": str(payload.get("days") or ""),
        "reason": str(payload.get("reason") or ""),
        "window": window,
        "tracking_url": tracking_url(public_url, order),
    }


@dataclass(frozen=True, slots=True)
class StepOutcome:
    outcome: str
    sent: notify.Sent | None = None


async def _notify(
    session: AsyncSession,
    order: Order,
    step: str,
    template_key: str,
    vars_: dict[str, str],
    *,
    once_key: str | None = None,
) -> StepOutcome:
    template = await notify.template_for(session, template_key, order.language)
    if template is None or not template.enabled:
        return StepOutcome("disabled")
    sent = await notify.send_step(session, order, step, template, vars_, once_key=once_key)
    return StepOutcome("flagged") if sent is None else StepOutcome("sent", sent)


async def _ask_feedback(session: AsyncSession, order: Order, sent: notify.Sent) -> None:
    """Delivery feedback closes the chain. Not after a WhatsApp template: outside the window
    a free-text question would be refused by Meta."""
    if sent.as_template:
        return
    template = await notify.template_for(session, FEEDBACK, order.language)
    if template is None or not template.enabled:
        return
    await surveys_service.maybe_request(
        session,
        sent.conversation,
        always=True,
        question=render(template.text, {}),
        chain="delivery",
        step=FEEDBACK,
    )


async def post_event(
    session: AsyncSession,
    external_id: str,
    data: OrderEventCreate,
    *,
    public_url: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record an event and act on it. The order's row lock serialises its events, so the
    same event_id posted twice at once is handled once and the second gets the stored
    answer."""
    now = now or datetime.now(UTC)
    order = await get_order(session, external_id, lock=True)
    existing = await session.scalar(
        select(OrderEvent).where(
            OrderEvent.order_id == order.id, OrderEvent.event_id == data.event_id
        )
    )
    if existing is not None:
        if existing.status != data.status.value:
            raise Conflict(
                f"event_id {data.event_id!r} was already used for {existing.status}",
                "event_id_reused",
            )
        return existing.response
    payload = data.model_dump(mode="json", include={"days", "reason", "window"}, exclude_none=True)
    event = OrderEvent(
        order_id=order.id,
        event_id=data.event_id,
        status=data.status.value,
        payload=payload,
        occurred_at=data.occurred_at or now,
        received_at=now,
        outcome="late",
    )
    previous = order.status
    rank = RANK[data.status]
    step = StepOutcome("repeated" if data.status.value == order.status else "late")
    if rank > order.stage_rank:
        step = await _advance(session, order, data.status, payload, public_url, now)
    elif data.status == OrderStatus.delayed and order.status == OrderStatus.delayed.value:
        step = await _delayed_again(session, order, payload, public_url, now) or step
    event.outcome = step.outcome
    event.message_id = step.sent.message.id if step.sent else None
    result = EventResult(
        order=order.external_id,
        event_id=data.event_id,
        status=data.status.value,
        order_status=order.status,
        outcome=step.outcome,
        message_id=event.message_id,
        conversation_id=step.sent.conversation.id if step.sent else None,
        channel_id=step.sent.conversation.channel_account_id if step.sent else None,
    )
    event.response = result.model_dump(mode="json")
    session.add(event)
    await session.flush()
    await raise_event(
        session,
        OrderStatusChanged(
            order_id=order.id,
            external_id=order.external_id,
            event_id=data.event_id,
            status=data.status.value,
            previous=previous,
            step_outcome=step.outcome,
        ),
    )
    return event.response


async def _advance(
    session: AsyncSession,
    order: Order,
    status: OrderStatus,
    payload: dict[str, Any],
    public_url: str,
    now: datetime,
) -> StepOutcome:
    """The order reached a later step: move it there, check the chain, notify."""
    order.stage_rank = RANK[status]
    order.status = status.value
    order.updated_at = now
    await session.flush()
    if status == OrderStatus.out_for_delivery and not await _has_event(
        session, order.id, OrderStatus.courier_scheduled
    ):
        # DOMAIN.md: a delivery without the courier's call is a conflict.
        await notify.alert(session, order, "no_courier_call", status.value)
    if RANK[status] >= RANK[OrderStatus.arrived_in_city]:
        await _disarm_promise_watchdog(session, order, now)
    elif status == OrderStatus.delayed and order.promised_date is not None:
        # The client was warned: the promise now runs `days` later.
        await _arm_promise_watchdog(
            session, order, promise_due(order.promised_date, int(payload["days"]))
        )
    outcome = await _notify(
        session, order, status.value, status.value, variables(order, public_url, payload)
    )
    if status == OrderStatus.delivered and outcome.sent is not None:
        await _ask_feedback(session, order, outcome.sent)
    return outcome


async def _delayed_again(
    session: AsyncSession, order: Order, payload: dict[str, Any], public_url: str, now: datetime
) -> StepOutcome | None:
    """Another delay while delayed: a later promised date is news (the client is told, once
    per date, and the watchdog moves); the same or an earlier date changes nothing (None)."""
    if order.promised_date is None:
        return None
    due = promise_due(order.promised_date, int(payload["days"]))
    current = await session.scalar(
        select(ChainWatchdog.due_at).where(
            ChainWatchdog.order_id == order.id, ChainWatchdog.kind == PROMISED_DATE
        )
    )
    if current is not None and due <= current:
        return None
    await _arm_promise_watchdog(session, order, due)
    order.updated_at = now
    step = OrderStatus.delayed.value
    return await _notify(
        session,
        order,
        step,
        step,
        variables(order, public_url, payload),
        once_key=f"{step}/{due.date().isoformat()}",
    )


async def _has_event(session: AsyncSession, order_id: int, status: OrderStatus) -> bool:
    found = await session.scalar(
        select(OrderEvent.id)
        .where(OrderEvent.order_id == order_id, OrderEvent.status == status.value)
        .limit(1)
    )
    return found is not None


async def promise_broken(
    session: AsyncSession, order: Order, public_url: str, now: datetime
) -> None:
    """The watchdog fired: the promised date passed before the order reached the client's
    city. Warn the client on the company's behalf (unless a delay was already announced)
    and alert the owner manager. The caller holds the order's lock."""
    if order.stage_rank >= RANK[OrderStatus.arrived_in_city]:
        return
    if not await _has_event(session, order.id, OrderStatus.delayed):
        event = OrderEvent(
            order_id=order.id,
            event_id=f"{WATCHDOG_EVENT}:{order.promised_date}",
            status=OrderStatus.delayed.value,
            payload={"auto": True},
            occurred_at=now,
            received_at=now,
            outcome="late",
        )
        order.stage_rank = RANK[OrderStatus.delayed]
        order.status = OrderStatus.delayed.value
        order.updated_at = now
        step = await _notify(
            session, order, OrderStatus.delayed.value, OVERDUE, variables(order, public_url, {})
        )
        event.outcome = step.outcome
        event.message_id = step.sent.message.id if step.sent else None
        session.add(event)
        await session.flush()
    await notify.alert(
        session,
        order,
        "promised_date_missed",
        OrderStatus.delayed.value,
        {"promised_date": order.promised_date.isoformat() if order.promised_date else None},
    )


# ---------------------------------------------------------------- templates


async def list_templates(session: AsyncSession) -> list[ChainTemplate]:
    rows = await session.scalars(
        select(ChainTemplate).order_by(ChainTemplate.status, ChainTemplate.language)
    )
    return list(rows.all())


async def put_template(
    session: AsyncSession, status: str, language: str, data: ChainTemplateWrite
) -> ChainTemplate:
    if status not in TEMPLATE_KEYS:
        raise NotFound(f"No chain step {status!r}; steps: {', '.join(TEMPLATE_KEYS)}")
    if language not in LANGUAGES:
        raise Invalid(f"Languages: {', '.join(LANGUAGES)}", "unknown_language")
    check_text(data.text)
    buttons = [[b.model_dump() for b in row] for row in data.buttons]
    await session.execute(
        pg_insert(ChainTemplate)
        .values(
            status=status, language=language, text=data.text, enabled=data.enabled, buttons=buttons
        )
        .on_conflict_do_update(
            index_elements=["status", "language"],
            set_={"text": data.text, "enabled": data.enabled, "buttons": buttons},
        )
    )
    template = await session.scalar(
        select(ChainTemplate)
        .where(ChainTemplate.status == status, ChainTemplate.language == language)
        .execution_options(populate_existing=True)
    )
    assert template is not None
    return template


# ---------------------------------------------------------------- tracking page


async def by_tracking_token(session: AsyncSession, token: str) -> Order:
    order = await session.scalar(select(Order).where(Order.tracking_token == token))
    if order is None:
        raise NotFound("No such tracking page", "unknown_tracking_token")
    return order
