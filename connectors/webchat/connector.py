"""Web chat: the widget posts JSON to our own API and reads replies from it.

Sending to a visitor means making the message visible to their history and WebSocket, which
the app does when the dispatcher records the message as sent; so send() only confirms."""

import hashlib
import hmac
import re
from typing import Any

from connectors.base import (
    Capabilities,
    InboundMessage,
    Media,
    MediaUnavailable,
    OutboundMessage,
    Sender,
    SendResult,
)

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class InvalidPayload(ValueError):
    pass


def identity_hash(secret: str, identifier: str) -> str:
    return hmac.new(secret.encode(), identifier.encode(), hashlib.sha256).hexdigest()


def verify_identity(secret: str, identifier: str, given_hash: str) -> bool:
    return hmac.compare_digest(identity_hash(secret, identifier), given_hash.lower())


def parse_visitor_message(
    visitor_external_id: str,
    text: str,
    client_message_id: str | None,
    fallback_id: str,
    name: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> InboundMessage:
    """A widget POST becomes an InboundMessage. The idempotency key is scoped to the visitor,
    so two visitors using the same client id never collide. No email or phone: what a
    visitor types is not the provider's word (see Sender)."""
    if client_message_id is not None and not _CLIENT_ID.match(client_message_id):
        raise InvalidPayload("client_message_id must be 1-100 of A-Z a-z 0-9 . _ : -")
    key = client_message_id or fallback_id
    return InboundMessage(
        sender=Sender(external_id=visitor_external_id, name=name),
        external_id=f"{visitor_external_id}/{key}",
        text=text or None,
        kind=_kind(attachments) if attachments else "text",
        attachments=attachments or [],
    )


def _kind(attachments: list[dict[str, Any]]) -> str:
    return str(attachments[0].get("type") or "document")


class WebchatConnector:
    channel_type = "webchat"
    # The widget is our own page: it shows any length, and visitors only type text.
    capabilities = Capabilities(
        media=False,
        edits=False,
        templates=False,
        typing=True,
        read_receipts=True,
        reply_window=False,
        initiates=False,
        max_text_length=None,
    )
    rate_per_account: str | None = None
    rate_per_chat: str | None = None
    max_text_length: int | None = None  # the widget shows any length

    async def send(
        self, credentials: dict[str, Any], settings: dict[str, Any], message: OutboundMessage
    ) -> SendResult:
        return SendResult(provider_message_id=f"webchat-{message.message_id}")

    async def fetch_media(
        self, credentials: dict[str, Any], settings: dict[str, Any], attachment: dict[str, Any]
    ) -> Media:
        raise MediaUnavailable("web chat messages carry no provider-hosted media")
