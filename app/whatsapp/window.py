"""WhatsApp's customer-service window: free-form messages only within 24 hours of the
client's last message; after that only an approved template may open the conversation."""

from datetime import UTC, datetime, timedelta

WINDOW = timedelta(hours=24)


def written_at(channel_type: str, sent_at: datetime | None, received_at: datetime) -> datetime:
    """When the client wrote, as a channel's last_inbound_at records it. On WhatsApp the
    window runs from the client's message (Meta's timestamp), not from when it reached us: a
    message Meta redelivers 30 hours late does not reopen it. Never later than its receipt
    (a skewed clock cannot stretch the window). Other channels count from the receipt."""
    if channel_type != "whatsapp" or sent_at is None:
        return received_at
    return min(sent_at, received_at)


def window_expires_at(last_inbound_at: datetime | None) -> datetime | None:
    return last_inbound_at + WINDOW if last_inbound_at is not None else None


def window_open(last_inbound_at: datetime | None, now: datetime | None = None) -> bool:
    expires = window_expires_at(last_inbound_at)
    return expires is not None and (now or datetime.now(UTC)) < expires
