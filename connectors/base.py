"""The neutral types every connector translates to and from, and the Connector protocol.

Connectors never import app.*: they turn provider payloads into these types and these types
into provider calls. Credentials arrive per call; nothing is kept on a shared object."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Sender:
    external_id: str  # stable id of the person on this channel account
    name: str | None = None
    username: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    sender: Sender
    external_id: str  # unique per channel account: the idempotency key
    text: str | None = None
    kind: str = "text"  # text, image, document, voice, ..., unsupported
    attachments: list[dict[str, Any]] = field(default_factory=list)
    reply_to_external_id: str | None = None
    sent_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    message_id: int
    recipient_external_id: str
    text: str | None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str | None


class TemporaryError(Exception):
    """The send may succeed later (rate limit, 5xx, timeout)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PermanentError(Exception):
    """The send will never succeed (blocked, invalid recipient, window closed)."""

    def __init__(self, reason: str, recipient_unreachable: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.recipient_unreachable = recipient_unreachable


class Connector(Protocol):
    channel_type: str

    async def send(
        self, credentials: dict[str, Any], settings: dict[str, Any], message: OutboundMessage
    ) -> SendResult: ...
