"""The variables a canned response may hold, `{{contact.name}}` and the like: checked when
it is saved (an unknown one is a 422, never a literal brace sent to a client) and filled in
when it is rendered for a conversation."""

import re

from app.core.errors import Invalid

VARIABLES: dict[str, str] = {
    "contact.name": "the client's name",
    "contact.first_name": "the first word of the client's name",
    "contact.email": "the client's email",
    "contact.phone": "the client's phone",
    "operator.name": "the replying operator's name",
    "operator.first_name": "the first word of the operator's name",
    "order.number": "the client's latest order number (delivery chains), if any",
    "order.status": "that order's status",
    "conversation.id": "the conversation's number",
}

_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def names_in(content: str) -> list[str]:
    return _VARIABLE.findall(content)


def check(content: str) -> str:
    """422 unknown_variable for a name not in VARIABLES; 422 invalid_template for braces
    that open or close no variable."""
    unknown = sorted({n for n in names_in(content) if n not in VARIABLES})
    if unknown:
        raise Invalid(
            f"Unknown variable {{{{{unknown[0]}}}}}; known: {', '.join(VARIABLES)}",
            "unknown_variable",
            details={"unknown": unknown, "known": list(VARIABLES)},
        )
    rest = _VARIABLE.sub("", content)
    if "{{" in rest or "}}" in rest:
        raise Invalid("Unbalanced braces: write a variable as {{contact.name}}", "invalid_template")
    return content


def render(content: str, values: dict[str, str | None]) -> str:
    """Fills each variable in; one without a value (no order yet) becomes empty."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1)) or "", content)
