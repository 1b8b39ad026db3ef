"""The chain's default texts (seeded by the migration) and rendering them with variables."""

import string
from datetime import date, datetime
from typing import Any

from app.chains.models import OrderStatus
from app.core.errors import Invalid

LANGUAGES = ("ru", "en")
# Besides the order statuses: the watchdog's own delay notice and the feedback question.
OVERDUE = "overdue"
FEEDBACK = "feedback"
TEMPLATE_KEYS = (*(s.value for s in OrderStatus), OVERDUE, FEEDBACK)
VARIABLES = ("order", "first_name", "date", "delay_days", "reason", "window", "tracking_url")

_COURIER_BUTTONS = {
    "en": [
        [{"text": "Confirm", "action": "confirm"}, {"text": "Another time", "action": "reschedule"}]
    ],
    "ru": [
        [
            {"text": "Подтверждаю", "action": "confirm"},
            {"text": "Другое время", "action": "reschedule"},
        ]
    ],
}

# (status, language) -> (text, enabled). in_transit is off by default: the tracking page
# shows it, and a message for every hop is noise.
DEFAULTS: dict[tuple[str, str], tuple[str, bool]] = {
    ("accepted", "en"): (
        "Hi {first_name}! Your order {order} is accepted. Promised delivery: {date}. "
        "Track it here: {tracking_url}",
        True,
    ),
    ("accepted", "ru"): (
        "Здравствуйте, {first_name}! Заказ {order} принят. Обещанная дата доставки: {date}. "
        "Отслеживать: {tracking_url}",
        True,
    ),
    ("shipped", "en"): ("Your order {order} has been shipped. Tracking: {tracking_url}", True),
    ("shipped", "ru"): ("Заказ {order} отправлен. Отслеживать: {tracking_url}", True),
    ("in_transit", "en"): ("Your order {order} is on its way: {tracking_url}", False),
    ("in_transit", "ru"): ("Заказ {order} в пути: {tracking_url}", False),
    ("delayed", "en"): (
        "We are sorry: your order {order} is delayed by {delay_days} day(s) because of "
        "{reason}. Tracking: {tracking_url}",
        True,
    ),
    ("delayed", "ru"): (
        "Приносим извинения: заказ {order} задерживается на {delay_days} дн. Причина: "
        "{reason}. Отслеживать: {tracking_url}",
        True,
    ),
    ("arrived_in_city", "en"): (
        "Your order {order} has arrived in your city. The courier service will call you "
        "to agree a delivery time.",
        True,
    ),
    ("arrived_in_city", "ru"): (
        "Заказ {order} прибыл в ваш город. Курьерская служба свяжется с вами, чтобы "
        "согласовать время доставки.",
        True,
    ),
    ("courier_scheduled", "en"): (
        "The courier will bring your order {order} on {window}. Does this time suit you?",
        True,
    ),
    ("courier_scheduled", "ru"): (
        "Курьер привезёт заказ {order}: {window}. Вам удобно это время?",
        True,
    ),
    ("out_for_delivery", "en"): ("The courier is on the way with your order {order}.", True),
    ("out_for_delivery", "ru"): ("Курьер выехал к вам с заказом {order}.", True),
    ("delivered", "en"): (
        "Your order {order} has been delivered. Thank you for shopping with us!",
        True,
    ),
    ("delivered", "ru"): ("Заказ {order} доставлен. Спасибо за покупку!", True),
    ("return_requested", "en"): (
        "We have received your return request for order {order}. We will tell you the "
        "next steps shortly.",
        True,
    ),
    ("return_requested", "ru"): (
        "Мы получили заявку на возврат заказа {order} и скоро напишем, что делать дальше.",
        True,
    ),
    ("returned", "en"): ("The return of order {order} is complete. Thank you!", True),
    ("returned", "ru"): ("Возврат заказа {order} оформлен. Спасибо!", True),
    ("cancelled", "en"): ("Your order {order} has been cancelled.", True),
    ("cancelled", "ru"): ("Заказ {order} отменён.", True),
    (OVERDUE, "en"): (
        "We are sorry: your order {order} will not arrive by {date} as promised. We are "
        "finding out why and will tell you the new date. Tracking: {tracking_url}",
        True,
    ),
    (OVERDUE, "ru"): (
        "Приносим извинения: заказ {order} не успевает к обещанной дате {date}. Мы "
        "выясняем причину и сообщим новую дату. Отслеживать: {tracking_url}",
        True,
    ),
    (FEEDBACK, "en"): (
        "How did the delivery go? Rate it from 1 (poor) to 5 (excellent).",
        True,
    ),
    (FEEDBACK, "ru"): (
        "Как прошла доставка? Оцените от 1 (плохо) до 5 (отлично).",
        True,
    ),
}


def default_rows() -> list[dict[str, Any]]:
    """The seed rows (the migration inserts them)."""
    return [
        {
            "status": status,
            "language": lang,
            "text": text,
            "enabled": enabled,
            "buttons": _COURIER_BUTTONS[lang] if status == "courier_scheduled" else [],
        }
        for (status, lang), (text, enabled) in DEFAULTS.items()
    ]


def check_text(text: str) -> str:
    """A template may only use the known variables (a typo would send a literal brace)."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise Invalid(f"The template is not valid: {exc}", "invalid_template") from exc
    unknown = sorted({f for f in fields if f not in VARIABLES})
    if unknown:
        raise Invalid(
            f"Unknown variables {unknown}; known: {', '.join(VARIABLES)}", "invalid_template"
        )
    return text


def render(text: str, variables: dict[str, str]) -> str:
    return text.format_map({name: variables.get(name, "") for name in VARIABLES})


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_date(value: date | None, language: str) -> str:
    if value is None:
        return "—"
    if language == "ru":
        return value.strftime("%d.%m.%Y")
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"


def format_window(start: datetime, end: datetime, language: str) -> str:
    day = format_date(start.date(), language)
    return f"{day} {start:%H:%M}–{end:%H:%M}"


def greeting_name(first_name: str | None, language: str) -> str:
    if first_name:
        return first_name
    return "покупатель" if language == "ru" else "there"
