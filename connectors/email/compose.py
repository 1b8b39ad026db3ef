"""An outgoing mail: a proper reply that lands in the client's thread.

OutboundMessage.meta keys (all optional):
  subject       the conversation's subject (its last inbound mail's); with in_reply_to it
                becomes "Re: <subject>" (never "Re: Re:"), without it it is used as given
                (a chain notification's template subject)
  in_reply_to   the Message-ID of the mail we answer (the conversation's last inbound)
  references    that mail's References list (oldest first); its Message-ID is appended
  from_name     the operator's or the company's name for From (else settings.from_name)
  html          an HTML body to send as the alternative (else one is made from the text)
  reply_token   a tag for our plus address in Reply-To (support+TAG@...), so a reply finds
                the conversation even when the client drops In-Reply-To
  auto_submitted  "auto-replied" / "auto-generated" (RFC 3834) for mail no person wrote,
                so other autoresponders do not answer it
  to_name       the recipient's display name"""

import html
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any

from connectors.base import OutboundMessage, PermanentError
from connectors.email.headers import (
    domain_of,
    message_id,
    message_ids,
    plus_address,
    reply_subject,
)

# One address, no display name, nothing that could end a header line.
_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")
# Long threads: keep the first id (the thread's root) and the latest ones (RFC 5322 3.6.4
# allows trimming; clients thread on the root and the parent).
_MAX_REFERENCES = 20


def compose(
    message: OutboundMessage, sender_address: str, settings: dict[str, Any]
) -> tuple[EmailMessage, str]:
    """The mail and its Message-ID (without brackets: the id a bounce or a reply names)."""
    meta = message.meta
    recipient = message.recipient_external_id.strip()
    if not _ADDRESS.fullmatch(recipient):
        raise PermanentError(
            f"Not an email address: {recipient[:100]!r}", recipient_unreachable=True
        )
    mail = EmailMessage()
    msgid = make_msgid(idstring=f"cc{message.message_id}", domain=domain_of(sender_address))
    from_name = _one_line(meta.get("from_name") or settings.get("from_name"))
    mail["From"] = formataddr((from_name, sender_address)) if from_name else sender_address
    to_name = _one_line(meta.get("to_name"))
    mail["To"] = formataddr((to_name, recipient)) if to_name else recipient
    token = meta.get("reply_token")
    if token:
        mail["Reply-To"] = plus_address(sender_address, str(token))
    mail["Subject"] = _subject(meta, settings)
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = msgid
    parent = message_id(str(meta.get("in_reply_to") or "")) if meta.get("in_reply_to") else None
    references = _references(meta.get("references"), parent)
    if parent:
        mail["In-Reply-To"] = f"<{parent}>"
    if references:
        mail["References"] = " ".join(f"<{r}>" for r in references)
    if meta.get("auto_submitted"):
        mail["Auto-Submitted"] = str(meta["auto_submitted"])
        mail["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office back to us
    text = _text(message)
    mail.set_content(text)
    mail.add_alternative(str(meta.get("html") or text_to_html(text)), subtype="html")
    for file in message.files:
        maintype, _, subtype = file.content_type.partition("/")
        mail.add_attachment(
            file.content,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=file.filename,
        )
    return mail, msgid.strip("<>")


def reply_meta(inbound_meta: dict[str, Any]) -> dict[str, Any]:
    """The OutboundMessage.meta that answers a stored inbound mail (its InboundMessage.meta):
    its subject, its Message-ID as In-Reply-To and its References."""
    meta: dict[str, Any] = {}
    if inbound_meta.get("subject"):
        meta["subject"] = inbound_meta["subject"]
    if inbound_meta.get("message_id"):
        meta["in_reply_to"] = inbound_meta["message_id"]
    if inbound_meta.get("references"):
        meta["references"] = list(inbound_meta["references"])
    return meta


def _subject(meta: dict[str, Any], settings: dict[str, Any]) -> str:
    subject = _one_line(meta.get("subject") or settings.get("default_subject"))
    if meta.get("in_reply_to"):
        return reply_subject(subject)
    return subject or str(settings.get("from_name") or "Message")


def _one_line(value: Any) -> str:
    """Header text from templates and names: a line break would end the header."""
    return " ".join(str(value or "").split())


def _references(value: Any, parent: str | None) -> list[str]:
    refs: list[str] = []
    if isinstance(value, list):
        for item in value:
            refs += message_ids(f"<{str(item).strip('<>')}>")
    elif isinstance(value, str):
        refs = message_ids(value)
    if parent and parent not in refs:
        refs.append(parent)
    if len(refs) > _MAX_REFERENCES:
        refs = refs[:1] + refs[-(_MAX_REFERENCES - 1) :]
    return refs


def _text(message: OutboundMessage) -> str:
    """The text, and links to provider-hosted files (mail carries our uploads only)."""
    lines = [message.text or ""]
    for item in message.attachments:
        url = item.get("url") or item.get("link")
        if url:
            lines.append(f"{item.get('filename') or 'File'}: {url}")
    return "\n\n".join(line for line in lines if line) + "\n"


def text_to_html(text: str) -> str:
    paragraphs = [p for p in text.strip().split("\n\n") if p.strip()]
    body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f"<!DOCTYPE html><html><body>{body}</body></html>\n"
