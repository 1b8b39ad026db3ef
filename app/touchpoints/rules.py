"""The touchpoint log's rules, written once: Python reads these tables and the SQL
functions in `sql/` are generated from them (app/touchpoints/sql.py)."""

from collections.abc import Mapping

from app.touchpoints.models import Reaction, TouchKind

# DOMAIN.md: recurrence (one-off vs repeating) and attention span (short vs long) follow
# from the kind of touch. A chat is something the client returns to and stays in.
SHAPES: Mapping[TouchKind, tuple[str, str]] = {
    TouchKind.message: ("repeating", "long"),
    TouchKind.note: ("one_off", "short"),
    TouchKind.notification: ("one_off", "short"),
    TouchKind.assignment: ("one_off", "short"),
    TouchKind.status_change: ("one_off", "short"),
    TouchKind.survey: ("one_off", "short"),
    TouchKind.call: ("one_off", "long"),
    TouchKind.meeting: ("one_off", "long"),
    TouchKind.button: ("one_off", "short"),
    TouchKind.delivery_failure: ("one_off", "short"),
    TouchKind.email: ("one_off", "short"),
    TouchKind.stage_change: ("one_off", "short"),
    TouchKind.alert: ("one_off", "short"),
}

# The client's reaction a CSAT rating (1-5) stands for.
REACTION_BY_RATING: Mapping[int, Reaction] = {
    1: Reaction.negative,
    2: Reaction.negative,
    3: Reaction.neutral,
    4: Reaction.positive,
    5: Reaction.positive,
}

# The touch an inbound message is, by the message's kind (a pressed button is a touch of
# its own kind); any other kind is a message. A survey's answer is a survey touch.
INBOUND_TOUCH_BY_MESSAGE_KIND: Mapping[str, TouchKind] = {"button": TouchKind.button}
INBOUND_TOUCH = TouchKind.message
SURVEY_ANSWER_TOUCH = TouchKind.survey


def shape_of(kind: TouchKind) -> tuple[str, str]:
    """(recurrence, attention) of a touch of this kind."""
    return SHAPES[kind]


def reaction_for(rating: int) -> Reaction:
    return REACTION_BY_RATING[rating]
