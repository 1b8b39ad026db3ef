"""Uploads: check and keep a file, hand out its descriptor for messages, and sign the
expiring links web-chat visitors download files with. Who may see an upload once a message
carries it is the inbox's rule (app/inbox/queries.py attachment_for)."""

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import filetype
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments.models import Attachment, MessageAttachment
from app.attachments.s3 import S3Storage
from app.attachments.schemas import AttachmentRead
from app.attachments.storage import AttachmentStorage, LocalStorage
from app.config import Settings
from app.core.context import AppContext
from app.core.errors import (
    Invalid,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnsupportedMediaType,
)
from app.operators import security
from app.operators.service import Principal

LINK_TOKEN = "file"
MAX_PER_MESSAGE = 10
_FILENAME_MAX = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True, slots=True)
class UploadRules:
    max_bytes: int
    content_types: frozenset[str]

    @classmethod
    def of(cls, settings: Settings) -> "UploadRules":
        types = {t.strip().lower() for t in settings.attachment_content_types.split(",")}
        return cls(settings.attachment_max_bytes, frozenset(t for t in types if t))

    @classmethod
    def for_visitors(cls, settings: Settings) -> "UploadRules":
        """The widget's public upload: its own (smaller) size limit, the same types."""
        return cls(settings.widget_attachment_max_bytes, cls.of(settings).content_types)


def storage_of(ctx: AppContext) -> AttachmentStorage:
    """The process's one store: the data directory, or the S3-compatible one."""
    if ctx.settings.attachments_store == "s3":
        return ctx.shared(S3Storage, lambda: S3Storage.of(ctx.settings))
    root = ctx.settings.attachment_dir or Path(ctx.settings.data_dir) / "attachments"
    return ctx.shared(LocalStorage, lambda: LocalStorage(root))


def sniff(content: bytes) -> str | None:
    """The content type the bytes show (magic numbers); plain UTF-8 without control bytes is
    text/plain. None when it is neither."""
    mime = filetype.guess_mime(content)
    if mime:
        return str(mime)
    try:
        decoded = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if any(ord(c) < 32 and c not in "\t\n\r\f" for c in decoded):
        return None
    return "text/plain"


def clean_filename(name: str | None) -> str:
    """What we show and send as the file's name: the last path part, no control characters
    or slashes, at most 200 characters."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = _UNSAFE.sub("", unicodedata.normalize("NFC", base)).strip().lstrip(".")
    return base[-_FILENAME_MAX:] or "file"


def download_headers(filename: str) -> dict[str, str]:
    """Always a download, never rendered in our origin, and the type is not second-guessed."""
    return {
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
        "X-Content-Type-Options": "nosniff",
    }


def kind_of(content_type: str) -> str:
    return "image" if content_type.startswith("image/") else "document"


async def upload(
    session: AsyncSession,
    storage: AttachmentStorage,
    principal: Principal,
    rules: UploadRules,
    *,
    filename: str | None,
    content: bytes,
) -> Attachment:
    attachment = await check_and_keep(storage, rules, filename=filename, content=content)
    attachment.operator_id = principal.operator_id
    attachment.api_key_id = principal.id if principal.kind == "api_key" else None
    session.add(attachment)
    await session.flush()
    return attachment


async def upload_by_visitor(
    session: AsyncSession,
    storage: AttachmentStorage,
    contact_id: int,
    rules: UploadRules,
    *,
    filename: str | None,
    content: bytes,
) -> Attachment:
    """A web-chat visitor's file: bound to their contact, usable on their messages only."""
    attachment = await check_and_keep(storage, rules, filename=filename, content=content)
    attachment.contact_id = contact_id
    session.add(attachment)
    await session.flush()
    return attachment


async def check_and_keep(
    storage: AttachmentStorage, rules: UploadRules, *, filename: str | None, content: bytes
) -> Attachment:
    """The size and the type (judged from the bytes) checked, the bytes stored; the row is
    returned unsaved, with no owner (the caller sets who uploaded it)."""
    if not content:
        raise Invalid("The file is empty", "empty_file")
    if len(content) > rules.max_bytes:
        raise PayloadTooLarge(f"The file is over {rules.max_bytes} bytes", "file_too_large")
    content_type = sniff(content)
    if content_type is None or content_type not in rules.content_types:
        shown = content_type or "unknown"
        raise UnsupportedMediaType(
            f"Files of type {shown} are not accepted; allowed: "
            + ", ".join(sorted(rules.content_types)),
            "unsupported_file_type",
        )
    digest = hashlib.sha256(content).hexdigest()
    await storage.put(digest, content)
    return Attachment(
        id=secrets.token_urlsafe(18),
        filename=clean_filename(filename),
        content_type=content_type,
        size=len(content),
        sha256=digest,
    )


_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


async def keep_received(
    storage: AttachmentStorage, *, filename: str | None, content_type: str | None, content: bytes
) -> Attachment:
    """A file a client sent that the provider will not keep for us (a mail's attachment,
    gone once the mailbox is cleaned up): its bytes go to the same storage as uploads. The
    row is returned unsaved, with no uploader: link_to_message adds it once the message
    carrying it is stored, so a message stored before leaves no row behind. The declared
    type is kept (the download is never rendered: download_headers)."""
    declared = (content_type or "").strip().lower()
    if not _CONTENT_TYPE.match(declared):
        declared = sniff(content) or "application/octet-stream"
    digest = hashlib.sha256(content).hexdigest()
    await storage.put(digest, content)
    return Attachment(
        id=secrets.token_urlsafe(18),
        filename=clean_filename(filename),
        content_type=declared[:200],
        size=len(content),
        sha256=digest,
    )


async def link_to_message(
    session: AsyncSession, message_id: int, files: list[Attachment], *, new: bool = False
) -> None:
    """The message carries these files, in this order: whoever sees its conversation may
    download them. new: the rows of files kept by keep_received, added here."""
    if not files:
        return
    if new:
        session.add_all(files)
        await session.flush()
    session.add_all(
        MessageAttachment(message_id=message_id, attachment_id=a.id, position=i)
        for i, a in enumerate(files)
    )
    await session.flush()


def uploaded_by(attachment: Attachment, principal: Principal) -> bool:
    if principal.kind == "api_key":
        return attachment.api_key_id == principal.id
    return attachment.operator_id is not None and attachment.operator_id == principal.id


async def by_ids(session: AsyncSession, ids: list[str]) -> dict[str, Attachment]:
    if not ids:
        return {}
    rows = await session.scalars(select(Attachment).where(Attachment.id.in_(ids)))
    return {a.id: a for a in rows}


def to_read(attachment: Attachment) -> AttachmentRead:
    return AttachmentRead(
        id=attachment.id,
        type=kind_of(attachment.content_type),
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
        url=f"/api/v1/attachments/{attachment.id}",
    )


def descriptor(attachment: Attachment) -> dict[str, Any]:
    """What a message stores in its attachments list for an uploaded file."""
    return {
        "attachment_id": attachment.id,
        "type": kind_of(attachment.content_type),
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
    }


def is_upload(item: dict[str, Any]) -> bool:
    return isinstance(item.get("attachment_id"), str)


def read_of(item: dict[str, Any], url: str | None) -> AttachmentRead:
    """One entry of a message's attachments list in the API's shape: an upload's
    descriptor, or a provider's inbound media (Telegram file_name/mime_type/file_size,
    WhatsApp filename/mime_type)."""
    size = item.get("size", item.get("file_size"))
    provider_fields = (
        {}
        if is_upload(item)
        else {k: v for k, v in item.items() if k not in AttachmentRead.model_fields}
    )
    return AttachmentRead(
        **provider_fields,
        id=item["attachment_id"] if is_upload(item) else None,
        type=str(item.get("type") or "document"),
        filename=item.get("filename") or item.get("file_name"),
        content_type=item.get("content_type") or item.get("mime_type"),
        size=size if isinstance(size, int) else None,
        url=url,
    )


# ---------------------------------------------------------------- visitor links


def link_token(signing_key: str, attachment_id: str, ttl: int) -> str:
    return security.issue_token(signing_key, LINK_TOKEN, attachment_id, ttl)


def link_path(signing_key: str, attachment_id: str, ttl: int) -> str:
    return f"/files/{link_token(signing_key, attachment_id, ttl)}"


def attachment_id_of_link(signing_key: str, token: str) -> str:
    """The upload a signed link opens. A forged, altered or expired link is 404: the link
    is the only key, and a wrong one tells nothing."""
    if len(token) > 1000:
        raise NotFound("No such file", "unknown_link")
    try:
        claims = security.read_token(signing_key, token, LINK_TOKEN)
    except Unauthorized as exc:
        if exc.code == "token_expired":
            raise NotFound("The link has expired", "link_expired") from None
        raise NotFound("No such file", "unknown_link") from None
    return str(claims["sub"])


async def get(session: AsyncSession, attachment_id: str) -> Attachment:
    attachment = await session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound("No such attachment", "unknown_attachment")
    return attachment


@dataclass(frozen=True, slots=True)
class VisitorLinks:
    """Signs the links a web-chat visitor opens files with (no token of theirs needed)."""

    signing_key: str
    ttl: int

    def url(self, attachment_id: str) -> str:
        return link_path(self.signing_key, attachment_id, self.ttl)

    def read(self, item: dict[str, Any]) -> AttachmentRead:
        return read_of(item, self.url(item["attachment_id"]) if is_upload(item) else None)


def visitor_links(ctx: AppContext) -> VisitorLinks:
    return VisitorLinks(ctx.signing_key, ctx.settings.attachment_link_ttl_seconds)
