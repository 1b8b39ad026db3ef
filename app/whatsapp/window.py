"""WhatsApp's customer-service window: free-form messages only within 24 hours of the
client's last message; after that only an approved template may open the conversation."""

from datetime import UTC, datetime, timedelta

WINDOW = timedelta(hours=24)


def window_expires_at(last_inbound_at: datetime | None) -> datetime | None:
    return last_inbound_at + WINDOW if last_inbound_at is not None else None


def window_open(last_inbound_at: datetime | None, now: datetime | None = None) -> bool:
    expires = window_expires_at(last_inbound_at)
    return expires is not None and (now or datetime.now(UTC)) < expires
