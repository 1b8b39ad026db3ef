"""EmailConnector: the Connector protocol for a mailbox channel.

send(): one reply mail over SMTP (compose.py builds it, smtp.py sends it); the Message-ID we
generated is the provider_message_id, which is what a client's reply names in In-Reply-To
and a bounce names as the original. recipient_external_id is the client's address.

fetch_media(): the app keeps a mail's files at ingest (parse_email hands over their bytes;
app/email/service.py stores them like uploads), so this serves only mail stored before it
did: read again from the mailbox by the descriptor's "imap" location and "part"; gone when
the mail was moved or deleted or the folder recreated."""

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from connectors.base import (
    Capabilities,
    Media,
    MediaUnavailable,
    OutboundMessage,
    SendResult,
)
from connectors.email import account
from connectors.email.body import read_body
from connectors.email.compose import compose
from connectors.email.imap import MailboxReader
from connectors.email.parse import (
    DEFAULT_MAX_ATTACHMENT_BYTES,
    MailLocation,
    ParsedEmail,
    parse_email,
)
from connectors.email.smtp import send_mail

CHANNEL_TYPE = "email"


def read_mail(
    raw: bytes,
    settings: dict[str, Any],
    location: MailLocation | None = None,
    headers_only_size: int | None = None,
) -> ParsedEmail:
    """parse_email with the channel's settings (its address for reply tokens, its file
    size limit): what the app calls for each FetchedMail, as
    read_mail(m.raw, settings, m.location, m.size if m.headers_only else None)."""
    address = str(settings.get("address") or "").strip().lower() or None
    return parse_email(
        raw,
        location=location,
        mailbox_address=address,
        max_attachment_bytes=account.max_attachment_bytes(settings, DEFAULT_MAX_ATTACHMENT_BYTES),
        headers_only_size=headers_only_size,
    )


class EmailConnector:
    channel_type = CHANNEL_TYPE
    # Mail may go to an address that never wrote (a shop's client): it initiates.
    capabilities = Capabilities(
        media=True,
        edits=False,
        templates=False,
        typing=False,
        read_receipts=False,
        reply_window=False,
        initiates=True,
        max_text_length=None,
    )
    max_text_length: int | None = None  # a mail takes any length
    # Mail providers limit per account per day rather than per second; a channel's
    # settings may set rate_per_account for its provider.
    rate_per_account: str | None = None
    rate_per_chat: str | None = None

    async def send(
        self, credentials: dict[str, Any], settings: dict[str, Any], message: OutboundMessage
    ) -> SendResult:
        sender = account.address(settings)
        server = account.server("smtp", credentials, settings)
        mail, msgid = compose(message, sender, settings)
        await send_mail(server, mail, sender, message.recipient_external_id)
        return SendResult(provider_message_id=msgid)

    async def fetch_media(
        self, credentials: dict[str, Any], settings: dict[str, Any], attachment: dict[str, Any]
    ) -> Media:
        if attachment.get("too_large"):
            raise MediaUnavailable(str(attachment.get("note") or "The file was not stored"))
        where = attachment.get("imap")
        part = attachment.get("part")
        if not isinstance(where, dict) or not isinstance(part, str):
            raise MediaUnavailable("The attachment has no mailbox location")
        folder = str(where.get("folder") or "INBOX")
        read_only = {"imap_folder": folder, "mark_seen": False, "move_to": None}
        async with MailboxReader(credentials, settings | read_only) as box:
            raw = await box.fetch_raw(
                int(where.get("uidvalidity") or 0), int(where.get("uid") or 0)
            )
        if raw is None:
            raise MediaUnavailable("The mail is no longer in the mailbox")
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        limit = account.max_attachment_bytes(settings, DEFAULT_MAX_ATTACHMENT_BYTES)
        for file in read_body(msg, limit).files:
            if file.path == part and file.content is not None:
                return Media(file.content, file.content_type, file.filename)
        raise MediaUnavailable(f"The mail has no file at part {part}")
