"""Rendering the chain's texts with their variables (the default texts are rows the delivery
chains migration seeds; operators edit them through /api/v1/chain-templates)."""

import string
from datetime import date, datetime

from app.chains.models import OrderStatus
from app.core.errors import Invalid

LANGUAGES = ("ru", "en")
# Besides the order statuses: the watchdog's own delay notice and the feedback question.
OVERDUE = "overdue"
FEEDBACK = "feedback"
TEMPLATE_KEYS = (*(s.value for s in OrderStatus), OVERDUE, FEEDBACK)
VARIABLES = ("order", "first_name", "date", "delay_days", "reason", "window", "tracking_url")


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
