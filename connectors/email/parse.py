"""RFC 822 bytes -> ParsedEmail: the InboundMessage an operator sees, or the StatusUpdate a
bounce means, plus the bytes of the files the mail carried.

- external_id: the Message-ID without brackets; a mail without one gets "sha256:<hex of
  its bytes>", which stays the same when the mailbox is read again after a UIDVALIDITY
  change (a UID would not).
- sender: the From address (lower-cased) is Sender.external_id only; a From header is the
  sender's own claim, so it is not set as Sender.email (vouched) and nothing else is set.
- text: the new text without quoted history or signature; meta keeps the whole text, the
  sanitised HTML, the threading keys and the classification (see META_KEYS).
Never raises: a mail that cannot be parsed at all is kept as an "unsupported" message with
what could be read."""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any

from connectors.base import InboundMessage, Sender, StatusUpdate
from connectors.email import classify, quotes
from connectors.email import html as html_text
from connectors.email.body import Body, MailFile, read_body
from connectors.email.headers import (
    addresses,
    header_text,
    message_id,
    message_ids,
    reply_token,
)

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
_FORWARD_SUBJECT = re.compile(r"^\s*(?:fwd?|пересл|fw)\s*:", re.IGNORECASE)
_FORWARD_MARK = re.compile(
    r"-{3,}\s*(?:forwarded message|original message|пересылаемое сообщение|"
    r"перенаправленное сообщение)",
    re.IGNORECASE,
)

# What InboundMessage.meta holds (absent keys: the mail had no such thing).
META_KEYS = (
    "subject",  # decoded Subject
    "message_id",  # normalised Message-ID (no brackets), None when the mail had none
    "in_reply_to",  # normalised In-Reply-To
    "references",  # list of normalised References, oldest first
    "reply_token",  # the tag of the plus address we were written to (support+TAG@...)
    "from",
    "from_name",
    "to",
    "cc",  # addresses (lower-cased) and the sender's name
    "date",  # the Date header as ISO 8601
    "full_text",  # the whole text, quoted history and signature included
    "text_source",  # "plain" or "html": which part the text came from
    "html",  # the HTML part, sanitised (scripts, remote images removed)
    "automated",  # {"kind": auto_reply|mailing_list|bounce, "reason"}: open no lead
    "forwarded",  # forwarded mails: [{"from", "to", "subject", "date", "message_id", "text"}]
    "imap",  # {"folder", "uidvalidity", "uid"} where the mail was read
    "defects",  # what was malformed (names of the email package's defect classes)
    "too_large",  # {"size", "note"}: the mail was over max_message_bytes, headers only
    "truncated",  # ["full_text", "html"]: kept cut at META_TEXT_LIMIT characters
)
# full_text and html are for showing the original, not an archive: a 5 MB newsletter's
# HTML is cut here (the mail itself stays in the mailbox).
META_TEXT_LIMIT = 512 * 1024


@dataclass(frozen=True, slots=True)
class MailLocation:
    folder: str
    uidvalidity: int
    uid: int

    def as_meta(self) -> dict[str, Any]:
        return {"folder": self.folder, "uidvalidity": self.uidvalidity, "uid": self.uid}


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    """At most one of message and status is set; neither for a delay notice ("will retry")."""

    message: InboundMessage | None
    status: StatusUpdate | None = None
    # The bytes of message.attachments[i]; None for one over the size limit.
    files: list[bytes | None] = field(default_factory=list)

    @property
    def automated(self) -> dict[str, str] | None:
        """Set for auto-replies, mailing lists and bounces: open no lead, send no auto-reply."""
        if self.message is None:
            return None
        value = self.message.meta.get("automated")
        return value if isinstance(value, dict) else None


def parse_email(
    raw: bytes,
    *,
    location: MailLocation | None = None,
    mailbox_address: str | None = None,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
    headers_only_size: int | None = None,
) -> ParsedEmail:
    """headers_only_size: raw holds only the headers of a mail of that many bytes (one over
    the channel's max_message_bytes); it is kept with a note instead of its body."""
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(msg, EmailMessage)
        parsed = _parse(msg, raw, location, mailbox_address, max_attachment_bytes)
        if headers_only_size is not None and parsed.message is not None:
            parsed.message.meta["too_large"] = {
                "size": headers_only_size,
                "note": f"Only the headers were read: the mail is {headers_only_size} bytes, "
                "over the channel's message size limit",
            }
        return parsed
    except Exception as exc:  # the email package gave up: keep what can be read
        return ParsedEmail(_unreadable(raw, location, exc))


def _parse(
    msg: EmailMessage,
    raw: bytes,
    location: MailLocation | None,
    mailbox_address: str | None,
    max_bytes: int,
) -> ParsedEmail:
    subject = header_text(msg, "Subject")
    automated = classify.classify(msg, subject)
    if automated is not None and automated.kind == classify.BOUNCE:
        report = classify.delivery_report(msg)
        if report is not None and report.original_message_id:
            return ParsedEmail(None, _status(report, msg))
    body = read_body(msg, max_bytes)
    full_text, source = _full_text(body)
    text = _shown_text(full_text, subject, body)
    recipients = addresses(msg, "To", "Cc", "Delivered-To", "X-Original-To")
    meta: dict[str, Any] = {
        "subject": subject,
        "message_id": message_id(header_text(msg, "Message-ID")),
        "in_reply_to": message_id(header_text(msg, "In-Reply-To")),
        "references": message_ids(header_text(msg, "References")),
        "reply_token": reply_token([a for _, a in recipients], mailbox_address),
        "to": [a for _, a in addresses(msg, "To")],
        "cc": [a for _, a in addresses(msg, "Cc")],
        "date": None,
        "full_text": full_text,
        "text_source": source,
    }
    sent_at = _date(header_text(msg, "Date"))
    meta["date"] = sent_at.isoformat() if sent_at else None
    if body.html is not None:
        meta["html"] = html_text.sanitize(body.html)
    truncated = [k for k in ("full_text", "html") if len(meta.get(k) or "") > META_TEXT_LIMIT]
    for key in truncated:
        meta[key] = meta[key][:META_TEXT_LIMIT]
    if truncated:
        meta["truncated"] = truncated
    if automated is not None:
        meta["automated"] = automated.as_meta()
    if body.forwarded:
        meta["forwarded"] = body.forwarded
    if location is not None:
        meta["imap"] = location.as_meta()
    defects = _defects(msg)
    if defects:
        meta["defects"] = defects
    sender = _sender(msg)
    meta["from"], meta["from_name"] = sender.email, sender.name
    attachments = [_descriptor(f, location) for f in body.files]
    kind = "text" if text else (attachments[0]["type"] if attachments else "text")
    message = InboundMessage(
        sender=sender,
        external_id=meta["message_id"] or "sha256:" + hashlib.sha256(raw).hexdigest(),
        text=text or None,
        kind=kind,
        attachments=attachments,
        reply_to_external_id=meta["in_reply_to"],
        sent_at=sent_at,
        meta={k: v for k, v in meta.items() if v not in (None, [], "")},
    )
    return ParsedEmail(message, None, [f.content for f in body.files])


def thread_keys(meta: dict[str, Any]) -> list[str]:
    """The Message-IDs that may name a mail of an existing conversation, best first: the
    parent (In-Reply-To), then References from the newest back. Look each up among the
    conversation's stored ids (our sent Message-IDs and the inbound ones); no hit there,
    then meta["reply_token"]; never the subject alone."""
    keys: list[str] = []
    for key in [meta.get("in_reply_to"), *reversed(meta.get("references") or [])]:
        if isinstance(key, str) and key and key not in keys:
            keys.append(key)
    return keys


def _full_text(body: Body) -> tuple[str, str]:
    if body.plain and body.plain.strip():
        return body.plain.replace("\r\n", "\n").strip(), "plain"
    if body.html:
        return html_text.to_text(body.html), "html"
    return "", "plain"


def _shown_text(full_text: str, subject: str | None, body: Body) -> str:
    """A forwarded mail is shown whole (its history is the point); a reply without its
    quote; a mail without text by its forwarded mail's text or its subject."""
    forwarded = bool(_FORWARD_SUBJECT.match(subject or "")) or bool(_FORWARD_MARK.search(full_text))
    text = full_text if forwarded else quotes.new_text(full_text)
    blocks = [text] if text else []
    blocks += [_forwarded_block(f) for f in body.forwarded]
    return "\n\n".join(blocks) or (subject or "")


def _forwarded_block(forwarded: dict[str, Any]) -> str:
    lines = ["---------- Forwarded message ----------"]
    for key, label in (("from", "From"), ("date", "Date"), ("subject", "Subject")):
        if forwarded.get(key):
            lines.append(f"{label}: {forwarded[key]}")
    return "\n".join(lines) + "\n\n" + str(forwarded.get("text") or "")


def _sender(msg: EmailMessage) -> Sender:
    found = addresses(msg, "From") or addresses(msg, "Sender", "Reply-To", "Return-Path")
    if found:
        name, address = found[0]
        # The address is the identity on this channel, but not vouched for: anyone can write
        # any From, and Sender.email would tie the writer to a shop's orders (connectors/base.py).
        return Sender(external_id=address, name=name or None)
    raw = header_text(msg, "From") or "unknown"
    return Sender(external_id=raw[:200])


def _descriptor(file: MailFile, location: MailLocation | None) -> dict[str, Any]:
    major = file.content_type.partition("/")[0]
    item: dict[str, Any] = {
        "type": major if major in ("image", "audio", "video") else "document",
        "filename": file.filename,
        "content_type": file.content_type,
        "size": file.size,
        "part": file.path,
    }
    if file.inline:
        item["inline"] = True
    if file.content_id:
        item["content_id"] = file.content_id
    if file.content is None:
        item["too_large"] = True
        item["note"] = f"Not stored: {file.size} bytes is over the channel's attachment limit"
    if location is not None:
        item["imap"] = location.as_meta()
    return item


def _status(report: classify.DeliveryReport, msg: EmailMessage) -> StatusUpdate | None:
    state = {"failed": "failed", "delivered": "delivered", "relayed": "sent"}.get(report.action)
    if state is None or report.original_message_id is None:
        return None  # "delayed": the server keeps trying; nothing changes yet
    return StatusUpdate(
        provider_message_id=report.original_message_id,
        state=state,
        at=_date(report.arrived) or _date(header_text(msg, "Date")),
        error_code=report.status if state == "failed" else None,
        error_title=(report.diagnostic or report.status) if state == "failed" else None,
    )


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def _defects(msg: EmailMessage) -> list[str]:
    names: dict[str, None] = {}
    for part in msg.walk():
        for defect in getattr(part, "defects", []):
            names.setdefault(type(defect).__name__, None)
    return list(names)


def _unreadable(raw: bytes, location: MailLocation | None, exc: Exception) -> InboundMessage:
    meta: dict[str, Any] = {"defects": [type(exc).__name__]}
    if location is not None:
        meta["imap"] = location.as_meta()
    return InboundMessage(
        sender=Sender(external_id="unknown"),
        external_id="sha256:" + hashlib.sha256(raw).hexdigest(),
        text=raw[:100_000].decode("utf-8", "replace"),
        kind="unsupported",
        meta=meta,
    )
