"""The events an endpoint can subscribe to, and the body each delivery carries."""

from datetime import datetime
from typing import Any

SUBSCRIBABLE = (
    "conversation.created",
    "conversation.assigned",
    "conversation.resolved",
    "message.created",
    "contact.created",
    "contact.updated",
    "order.status_changed",
    "touchpoint.created",
)


def body(event_type: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The Standard Webhooks payload shape: type, timestamp, data."""
    return {"type": event_type, "timestamp": at.isoformat(), "data": data}
