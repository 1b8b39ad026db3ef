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
    # The provider's word only (a wa_id, a Telegram user's own shared contact): they are
    # stored as vouched for and can tie the person to a shop's orders. Never what a person
    # merely typed.
    phone: str | None = None
    email: str | None = None
    source: str | None = None  # where a lead came from (a deep-link payload, an ad)


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
class MessageEdit:
    """The sender changed a message we already stored (Telegram edited_message, WhatsApp
    edit), or deleted it for everyone (WhatsApp revoke: `deleted`, text and files gone)."""

    external_id: str  # the same key the original InboundMessage had
    text: str | None
    edited_at: datetime | None = None
    attachments: list[dict[str, Any]] | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A provider's receipt for a message we sent: sent, delivered, read or failed."""

    provider_message_id: str
    state: str  # "sent" | "delivered" | "read" | "failed"
    at: datetime | None = None
    error_code: str | None = None
    error_title: str | None = None


@dataclass(frozen=True, slots=True)
class OutboundFile:
    """An uploaded file to send, bytes and all (the connector uploads it to the provider).
    content_type was judged from the bytes when it was uploaded."""

    filename: str
    content_type: str
    content: bytes

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    message_id: int
    recipient_external_id: str
    text: str | None
    # Provider-hosted media to send by reference (a URL, a Telegram file_id).
    attachments: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    # Our own uploads, in order: the text goes with the first as its caption where it fits.
    files: list[OutboundFile] = field(default_factory=list)


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


@dataclass(frozen=True, slots=True)
class Media:
    content: bytes
    content_type: str
    filename: str | None = None


class MediaUnavailable(Exception):
    """The provider no longer has the file, or never had it."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a channel can do, declared by its connector: the app asks these instead of
    branching on a channel type (the console's template picker, the reply window, who may
    write first)."""

    media: bool  # files both ways
    edits: bool  # the client may edit or delete a sent message
    templates: bool  # approved templates (needed outside a reply window)
    typing: bool  # a typing indicator reaches the client
    read_receipts: bool  # the provider reports "read"
    reply_window: bool  # free text only for a while after the client wrote
    initiates: bool  # we may write first to someone who never wrote (by a template)
    max_text_length: int | None  # the longest text one message takes; None: no limit


class Connector(Protocol):
    channel_type: str
    capabilities: Capabilities
    # Provider throughput, as `limits` strings ("30/second"); None = unlimited. A channel
    # account's settings may override them (rate_per_account, rate_per_chat).
    rate_per_account: str | None
    rate_per_chat: str | None
    # The longest text one provider message takes (connectors/text.py counts it); a longer
    # outgoing text is split into several messages at queue time. None = no limit.
    max_text_length: int | None

    async def send(
        self, credentials: dict[str, Any], settings: dict[str, Any], message: OutboundMessage
    ) -> SendResult: ...

    async def fetch_media(
        self, credentials: dict[str, Any], settings: dict[str, Any], attachment: dict[str, Any]
    ) -> Media:
        """Download an inbound attachment (e.g. by Telegram file_id, WhatsApp media id)."""
        ...
