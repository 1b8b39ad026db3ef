"""The MIME tree of one mail: its text (plain and HTML), its files and forwarded mails.

The text is the part a mail client would show (text/plain preferred, else text/html);
other parts are files, numbered by their place in the tree like IMAP section numbers
("1", "2.1") so that one can be found again later. Nothing here raises on bad input: a
part that cannot be read is recorded as well as it can be."""

import contextlib
import mimetypes
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from typing import Any

from connectors.email import html as html_text
from connectors.email.headers import fix_8bit, header_text, message_id

# When a part declares no charset, or a wrong one, these are tried in turn: most unlabelled
# mail here is UTF-8, else windows-1251 (which decodes nearly any bytes, so it is last).
_FALLBACK_CHARSETS = ("utf-8", "cp1251")
_BODY_TYPES = ("text/plain", "text/html")


@dataclass(slots=True)
class MailFile:
    path: str
    filename: str
    content_type: str
    size: int
    content: bytes | None  # None when over the size limit
    inline: bool = False
    content_id: str | None = None


@dataclass(slots=True)
class Body:
    plain: str | None = None
    html: str | None = None
    files: list[MailFile] = field(default_factory=list)
    forwarded: list[dict[str, Any]] = field(default_factory=list)


def decode_text(part: Message) -> str:
    raw = _payload(part)
    declared = part.get_content_charset()
    for charset in (declared, *_FALLBACK_CHARSETS):
        if not charset:
            continue
        try:
            return raw.decode(_codec(charset))
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("utf-8", "replace")


def _codec(charset: str) -> str:
    # Aliases mailers use that Python's codec registry does not know.
    return {"cp-1251": "cp1251", "win-1251": "cp1251", "x-cp1251": "cp1251"}.get(
        charset.lower(), charset
    )


def _payload(part: Message) -> bytes:
    try:
        raw = part.get_payload(decode=True)
    except Exception:  # a broken transfer encoding: take what is there
        raw = None
    if isinstance(raw, bytes):
        return raw
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def read_body(msg: EmailMessage, max_file_bytes: int) -> Body:
    body = Body()
    plain_part = _preferred(msg, "plain")
    html_part = _preferred(msg, "html")
    if plain_part is not None:
        body.plain = decode_text(plain_part)
    if html_part is not None:
        body.html = decode_text(html_part)
    extra: list[str] = []
    chosen = {id(p) for p in (plain_part, html_part) if p is not None}
    _walk(msg, "", body, chosen, extra, max_file_bytes, in_alternative=False)
    if extra:
        body.plain = "\n\n".join([t for t in [body.plain or "", *extra] if t.strip()])
    return body


def _preferred(msg: EmailMessage, kind: str) -> Message | None:
    try:
        part = msg.get_body(preferencelist=(kind,))
    except Exception:
        return None
    if part is None or _is_attachment(part):
        return None
    return part


def _is_attachment(part: Message) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    return disposition == "attachment" or (disposition != "inline" and _filename(part) is not None)


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    return fix_8bit(name).strip() or None if name else None


def _walk(
    part: Message,
    path: str,
    body: Body,
    chosen: set[int],
    extra: list[str],
    max_bytes: int,
    in_alternative: bool,
) -> None:
    ctype = part.get_content_type()
    if part.is_multipart() and ctype != "message/rfc822":
        payload = part.get_payload()
        children = payload if isinstance(payload, list) else []
        alternative = ctype == "multipart/alternative"
        for i, child in enumerate(children, start=1):
            _walk(
                child,
                f"{path}.{i}" if path else str(i),
                body,
                chosen,
                extra,
                max_bytes,
                in_alternative or alternative,
            )
        return
    path = path or "1"
    if id(part) in chosen:
        return
    if ctype in _BODY_TYPES and not _is_attachment(part):
        if in_alternative:
            return  # the other rendering of a text we already have
        text = decode_text(part)
        extra.append(html_text.to_text(text) if ctype == "text/html" else text)
        return
    if ctype == "message/rfc822":
        _forwarded(part, path, body, max_bytes)
        return
    body.files.append(_file(part, path, max_bytes))


def _file(part: Message, path: str, max_bytes: int, content: bytes | None = None) -> MailFile:
    ctype = part.get_content_type()
    raw = _payload(part) if content is None else content
    name = _filename(part) or f"part-{path}{mimetypes.guess_extension(ctype) or '.bin'}"
    cid = part.get("Content-ID")
    return MailFile(
        path=path,
        filename=name,
        content_type=ctype,
        size=len(raw),
        content=raw if len(raw) <= max_bytes else None,
        inline=(part.get_content_disposition() or "") == "inline" or cid is not None,
        content_id=message_id(str(cid)) if cid else None,
    )


def _forwarded(part: Message, path: str, body: Body, max_bytes: int) -> None:
    """A mail forwarded as an attachment: its text is shown, the .eml kept as a file."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, EmailMessage):
        body.files.append(_file(part, path, max_bytes))
        return
    inner_body = read_body(inner, max_bytes)
    text = inner_body.plain
    if not (text and text.strip()) and inner_body.html:
        text = html_text.to_text(inner_body.html)
    summary = {
        "from": header_text(inner, "From"),
        "to": header_text(inner, "To"),
        "subject": header_text(inner, "Subject"),
        "date": header_text(inner, "Date"),
        "message_id": message_id(header_text(inner, "Message-ID")),
        "text": (text or "").strip(),
    }
    body.forwarded.append(summary)
    raw = b""
    with contextlib.suppress(Exception):
        raw = inner.as_bytes()
    file = _file(part, path, max_bytes, content=raw)
    if file.filename.startswith("part-"):
        file.filename = f"{(summary['subject'] or 'forwarded')[:80]}.eml"
    body.files.append(file)
