"""The public tracking page: the chain's stages with their dates, as plain mobile-friendly
HTML. Nothing personal beyond the first name; everything shown is escaped."""

from datetime import datetime
from html import escape

from app.chains.models import Order, OrderEvent, OrderStatus
from app.chains.schemas import CourierWindow
from app.chains.templates import format_date, format_window

_LABELS = {
    "en": {
        "title": "Order {order}",
        "hello": "Hello, {name}!",
        "promised": "Promised delivery: {date}",
        OrderStatus.accepted: "Order accepted",
        OrderStatus.shipped: "Shipped",
        OrderStatus.in_transit: "In transit",
        OrderStatus.arrived_in_city: "Arrived in your city",
        OrderStatus.delayed: "Delayed",
        "delay": "Delayed by {days} day(s): {reason}",
        "late": "Running late: we will tell you the new date",
        OrderStatus.courier_scheduled: "Courier scheduled",
        OrderStatus.out_for_delivery: "Out for delivery",
        OrderStatus.delivered: "Delivered",
        OrderStatus.return_requested: "Return requested",
        OrderStatus.returned: "Returned",
        OrderStatus.cancelled: "Cancelled",
        "pending": "pending",
    },
    "ru": {
        "title": "Заказ {order}",
        "hello": "Здравствуйте, {name}!",
        "promised": "Обещанная дата доставки: {date}",
        OrderStatus.accepted: "Заказ принят",
        OrderStatus.shipped: "Отправлен",
        OrderStatus.in_transit: "В пути",
        OrderStatus.arrived_in_city: "Прибыл в ваш город",
        OrderStatus.delayed: "Задерживается",
        "delay": "Задержка на {days} дн.: {reason}",
        "late": "Задерживается: мы сообщим новую дату",
        OrderStatus.courier_scheduled: "Курьер назначен",
        OrderStatus.out_for_delivery: "Курьер в пути",
        OrderStatus.delivered: "Доставлен",
        OrderStatus.return_requested: "Запрошен возврат",
        OrderStatus.returned: "Возвращён",
        OrderStatus.cancelled: "Отменён",
        "pending": "ожидается",
    },
}

# The six stages; the fourth and fifth each show whichever of their two events happened.
_STAGES: list[tuple[OrderStatus, ...]] = [
    (OrderStatus.accepted,),
    (OrderStatus.shipped,),
    (OrderStatus.in_transit,),
    (OrderStatus.arrived_in_city, OrderStatus.delayed),
    (OrderStatus.out_for_delivery, OrderStatus.courier_scheduled),
    (OrderStatus.delivered,),
]
_ENDINGS = (OrderStatus.cancelled, OrderStatus.return_requested, OrderStatus.returned)


def _first(events: list[OrderEvent], status: OrderStatus) -> OrderEvent | None:
    found = [e for e in events if e.status == status.value]
    return min(found, key=lambda e: e.occurred_at) if found else None


def _when(at: datetime, language: str) -> str:
    return format_date(at.date(), language)


def render_page(order: Order, events: list[OrderEvent]) -> str:
    lang = order.language if order.language in _LABELS else "en"
    t = _LABELS[lang]
    items: list[str] = []
    # Stages before the furthest one reached count as passed (a skipped "shipped" event);
    # a delay is not progress.
    reached = max(
        (
            i
            for i, st in enumerate(_STAGES)
            for s in st
            if s != OrderStatus.delayed and _first(events, s)
        ),
        default=-1,
    )
    for i, statuses in enumerate(_STAGES):
        main, alt = statuses[0], statuses[1] if len(statuses) > 1 else None
        event = _first(events, main)
        label, css, detail = t[main], "", ""
        if event is None and alt is not None and (alt_event := _first(events, alt)):
            event, label = alt_event, t[alt]
            if alt == OrderStatus.delayed:
                css = "warn"
                p = alt_event.payload
                detail = (
                    t["delay"].format(days=p.get("days"), reason=p.get("reason"))
                    if p.get("days")
                    else t["late"]
                )
            elif alt_event.payload.get("window"):
                w = CourierWindow.model_validate(alt_event.payload["window"])
                detail = format_window(w.start, w.end, lang)
        if event is not None:
            css = css or "done"
            when = _when(event.occurred_at, lang)
        elif i < reached:
            css, when = "done", ""
        else:
            when = t["pending"]
        parts = [escape(label)]
        if detail:
            parts.append(f"<div>{escape(detail)}</div>")
        if when:
            parts.append(f'<div class="when">{escape(when)}</div>')
        items.append(f'<li class="{css}">{"".join(parts)}</li>')
    notes = [
        f'<div class="note">{escape(t[s])} · {escape(_when(e.occurred_at, lang))}</div>'
        for s in _ENDINGS
        if (e := _first(events, s)) is not None
    ]
    title = escape(t["title"].format(order=order.external_id))
    hello = f"<p>{escape(t['hello'].format(name=order.first_name))}</p>" if order.first_name else ""
    promised = escape(t["promised"].format(date=format_date(order.promised_date, lang)))
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f'<title>{title}</title><link rel="stylesheet" href="/console/track.css"></head>'
        "<body><main>"
        f'<h1>{title}</h1>{hello}<p class="when">{promised}</p>'
        f"<ol>{''.join(items)}</ol>{''.join(notes)}</main></body></html>"
    )
