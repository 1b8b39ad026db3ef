"""Mailboxes as channel accounts: checking a new one with its servers, and turning a mail
read from it into inbox rows (app/email/reader.py reads, this stores).

Channel settings (checked by app/email/plugin.py's model): the servers, the address and
From name, what to do with a mail once read (nothing by default), limits, and what
chatcentre writes itself: mailbox_key (user@host:port/folder: one reader per mailbox) and
the read position uidvalidity / last_uid / checked_on (connectors/email/imap.py
MailboxState), moved in the same transaction as the mails it covers.
Credentials: password (or imap_/smtp_password, oauth2_token), and reply_key, generated:
it signs the conversation token of our Reply-To address (support+c12-xxxx@...)."""

import base64
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import replace
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments import service as attachments_service
from app.attachments.models import Attachment
from app.attachments.storage import AttachmentStorage
from app.channels.models import ChannelAccount
from app.contacts.models import ContactIdentity
from app.core.errors import Conflict, Invalid, Unavailable
from app.delivery.statuses import apply_status
from app.email import metrics
from app.inbox import rules as inbox_rules
from app.inbox.models import Conversation, Direction, Message
from app.ingest.service import ingest
from app.operators.models import Operator
from connectors.base import PermanentError, TemporaryError
from connectors.email import account
from connectors.email.compose import reply_meta
from connectors.email.connector import CHANNEL_TYPE, read_mail
from connectors.email.headers import reply_subject
from connectors.email.imap import FetchedMail, MailboxReader, MailboxState
from connectors.email.parse import thread_keys
from connectors.email.smtp import check_login

log = logging.getLogger(__name__)

STATE_KEYS = ("uidvalidity", "last_uid", "checked_on")
DERIVED = ("mailbox_key", *STATE_KEYS)
_SECRETS = ("password", "imap_password", "smtp_password", "oauth2_token")
_TOKEN = re.compile(r"c(\d{1,18})-([a-z2-7]{10})")


# ------------------------------------------------------------------ a new or changed mailbox


def mailbox_key(settings: dict[str, Any], credentials: dict[str, Any]) -> str:
    server = account.server("imap", credentials, settings)
    folder = str(settings.get("imap_folder") or "INBOX")
    return f"{server.username or ''}@{server.host}:{server.port}/{folder}".lower()


async def prepare(
    session: AsyncSession,
    settings: dict[str, Any],
    credentials: dict[str, str],
    channel: ChannelAccount | None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Logs in to both servers before anything is stored; a refusal is a 422 naming the
    server (never the password). A new mailbox starts reading at its current end."""
    credentials = {k: str(v) for k, v in credentials.items() if v is not None}
    if not any(credentials.get(k) for k in _SECRETS):
        raise Invalid("credentials.password is required", "missing_credentials")
    try:
        key = mailbox_key(settings, credentials)
        smtp = account.server("smtp", credentials, settings)
    except PermanentError as exc:
        raise Invalid(exc.reason, "invalid_settings") from None
    taken = await session.scalar(
        select(ChannelAccount.id).where(
            ChannelAccount.type == CHANNEL_TYPE,
            ChannelAccount.settings["mailbox_key"].as_string() == key,
            ChannelAccount.deleted_at.is_(None),
            ChannelAccount.id != (channel.id if channel is not None else -1),
        )
    )
    if taken is not None:
        raise Conflict(f"This mailbox is already connected as channel {taken}", "mailbox_taken")
    fresh = channel is None or channel.settings.get("mailbox_key") != key
    state = MailboxState()
    try:
        async with MailboxReader(credentials, settings) as box:
            if fresh and not settings.get("import_existing"):
                state = (await box.fetch_new(MailboxState())).state
        await check_login(smtp)
    except PermanentError as exc:
        raise Invalid(exc.reason, "email_login_failed") from None
    except TemporaryError as exc:
        raise Unavailable(f"The mail server did not answer: {exc.reason}") from None
    stored = {k: v for k, v in settings.items() if k not in DERIVED}
    stored["mailbox_key"] = key
    if fresh:
        stored |= {k: v for k, v in state.as_dict().items() if v is not None}
    elif channel is not None:
        stored |= {k: channel.settings[k] for k in STATE_KEYS if k in channel.settings}
    old_key = channel.credentials.get("reply_key") if channel is not None else None
    credentials["reply_key"] = credentials.get("reply_key") or old_key or secrets.token_hex(32)
    return stored, credentials


def state_of(settings: dict[str, Any]) -> MailboxState:
    return MailboxState.from_dict({k: settings.get(k) for k in STATE_KEYS})


# ------------------------------------------------------------------ the conversation token


def reply_token(key: str, conversation_id: int) -> str:
    """The tag of our Reply-To plus address: names the conversation, signed so that a made
    up tag cannot put mail into someone else's conversation."""
    digest = hmac.new(key.encode(), f"conversation:{conversation_id}".encode(), hashlib.sha256)
    signature = base64.b32encode(digest.digest()).decode().lower()[:10]
    return f"c{conversation_id}-{signature}"


def conversation_of_token(key: str | None, token: Any) -> int | None:
    if not key or not isinstance(token, str):
        return None
    found = _TOKEN.fullmatch(token.lower())
    if found is None:
        return None
    conversation_id = int(found.group(1))
    return (
        conversation_id if hmac.compare_digest(reply_token(key, conversation_id), token) else None
    )


# ------------------------------------------------------------------ inbound


_THREAD = text("""
SELECT conversation_id, external_id, provider_message_id FROM messages
WHERE channel_account_id = :channel_id
  AND (external_id = ANY(CAST(:keys AS text[])) OR provider_message_id = ANY(CAST(:keys AS text[])))
""")


async def find_thread(
    session: AsyncSession, channel: ChannelAccount, meta: dict[str, Any]
) -> dict[str, Any] | None:
    """The conversation a mail continues: by In-Reply-To, then References (our sent
    Message-IDs and the stored inbound ones), then our Reply-To token; never by subject.
    "owner" is the address of that conversation's client, who need not be the sender."""
    found = await _by_message_ids(session, channel, meta)
    if found is None:
        key = channel.credentials.get("reply_key")
        token = conversation_of_token(key, meta.get("reply_token"))
        if token is not None:
            found = {"conversation_id": token, "by": "reply_token"}
    if found is None:
        return None
    owner = (
        await session.execute(
            select(ContactIdentity.external_id)
            .select_from(Conversation)
            .outerjoin(ContactIdentity, ContactIdentity.id == Conversation.identity_id)
            .where(
                Conversation.id == found["conversation_id"],
                Conversation.channel_account_id == channel.id,
            )
        )
    ).first()
    if owner is None:  # deleted since, or on another channel
        return None
    return {**found, "owner": owner[0]}


async def _by_message_ids(
    session: AsyncSession, channel: ChannelAccount, meta: dict[str, Any]
) -> dict[str, Any] | None:
    keys = thread_keys(meta)
    if not keys:
        return None
    rows = (await session.execute(_THREAD, {"channel_id": channel.id, "keys": keys})).all()
    for key in keys:
        for conversation_id, external_id, provider_id in rows:
            if key in (external_id, provider_id):
                by = "in_reply_to" if key == meta.get("in_reply_to") else "references"
                return {"conversation_id": conversation_id, "by": by}
    return None


async def store_mail(
    session: AsyncSession, channel: ChannelAccount, mail: FetchedMail, storage: AttachmentStorage
) -> str:
    """One mail read from the mailbox, stored at most once (by its Message-ID, or the hash
    of a mail without one), its files up to max_attachment_bytes in `storage`. Returns what
    happened: stored, duplicate, bounce, skipped (automated mail of nobody we talk to),
    ignored (a delay notice). Caller commits."""
    parsed = read_mail(
        mail.raw, channel.settings, mail.location, mail.size if mail.headers_only else None
    )
    if parsed.status is not None:
        metrics.BOUNCES.labels(parsed.status.state).inc()
        await apply_status(session, channel, parsed.status)
        return "bounce"
    msg = parsed.message
    if msg is None:
        return "ignored"
    automated = parsed.automated
    if automated is not None:
        # No lead and no auto-reply for mail no person wrote: kept only where its sender
        # already has an open conversation (an out-of-office answer to our reply).
        open_one = await session.scalar(
            select(Conversation.id)
            .join(ContactIdentity, ContactIdentity.id == Conversation.identity_id)
            .where(
                Conversation.channel_account_id == channel.id,
                ContactIdentity.external_id == msg.sender.external_id,
                Conversation.status.in_(inbox_rules.ACTIVE_STATUSES),
            )
            .limit(1)
        )
        if open_one is None:
            metrics.SKIPPED.labels(automated.get("kind", "automated")).inc()
            return "skipped"
    thread = await find_thread(session, channel, msg.meta)
    joins: int | None = None
    if thread is not None:
        meta = {**msg.meta, "thread": thread}
        if thread["owner"] != msg.sender.external_id:
            # Someone else of the client's side (a colleague on CC) answered the thread: it
            # joins the thread's conversation (as in Chatwoot), under their own name and
            # contact. Automated mail joins nothing it was not already part of.
            address = msg.sender.external_id
            meta["author"] = {"name": msg.sender.name or address, "email": address}
        if automated is None:
            joins = int(thread["conversation_id"])
        msg = replace(msg, meta=meta)
    kept = await _keep_files(storage, msg.attachments, parsed.files)
    if kept:
        msg = replace(
            msg, attachments=[_stored(a, kept.get(i)) for i, a in enumerate(msg.attachments)]
        )
    result = await ingest(session, channel, msg, conversation_id=joins)
    if result.duplicate:
        return "duplicate"
    assert result.message_id is not None
    await attachments_service.link_to_message(
        session, result.message_id, list(kept.values()), new=True
    )
    metrics.READ.inc()
    return "stored"


async def _keep_files(
    storage: AttachmentStorage, listed: list[dict[str, Any]], files: list[bytes | None]
) -> dict[int, Attachment]:
    """The mail's files within the size limit, kept in our storage by their position: a
    download never goes back to the mailbox (delete_after_read, move_to and clean-ups lose
    the mail there). A larger one has no bytes here and stays listed with its note."""
    kept: dict[int, Attachment] = {}
    for i, (item, content) in enumerate(zip(listed, files, strict=False)):
        if content:
            kept[i] = await attachments_service.keep_received(
                storage,
                filename=item.get("filename"),
                content_type=item.get("content_type"),
                content=content,
            )
    return kept


def _stored(item: dict[str, Any], kept: Attachment | None) -> dict[str, Any]:
    """The mail's description of the file (its kind, inline, part) with our copy's id; the
    mailbox location goes: the copy is where the download comes from."""
    if kept is None:
        return item
    item = {k: v for k, v in item.items() if k != "imap"}
    described = attachments_service.descriptor(kept)
    keys = ("attachment_id", "filename", "content_type", "size", "sha256")
    return item | {k: described[k] for k in keys}


# ------------------------------------------------------------------ outbound


async def outgoing_meta(
    session: AsyncSession,
    channel: ChannelAccount,
    conversation_id: int,
    operator_id: int | None,
    meta: dict[str, Any],
) -> dict[str, Any]:
    """A reply answers the conversation's last mail (its subject, Message-ID and
    References); a chain notice comes with its own subject and is marked auto-generated.
    The operator's name is the From name; our Reply-To carries the conversation's token."""
    out = dict(meta)
    if operator_id is not None and not out.get("from_name"):
        name = await session.scalar(select(Operator.name).where(Operator.id == operator_id))
        if name:
            out["from_name"] = name
    key = channel.credentials.get("reply_key")
    if key:
        out["reply_token"] = reply_token(str(key), conversation_id)
    if out.get("subject"):
        if out.get("chain"):
            out.setdefault("auto_submitted", "auto-generated")
        return out
    last = await session.scalar(
        select(Message.meta)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == Direction.inbound,
            Message.channel_account_id == channel.id,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    if isinstance(last, dict):
        out |= reply_meta(last)
        if out.get("subject"):  # as it goes out (and as the console shows it)
            out["subject"] = reply_subject(out["subject"])
    return out


_DEFAULT_SUBJECTS = {"ru": "Заказ {order}", "en": "Order {order}"}


def chain_subject(
    settings: dict[str, Any], step: str, language: str, variables: dict[str, str]
) -> str:
    """settings.chain_subjects[step] (or "*"), with the chain's variables; else "Order N"."""
    subjects = settings.get("chain_subjects") or {}
    template = subjects.get(step) or subjects.get("*") or _DEFAULT_SUBJECTS.get(language)
    template = template or _DEFAULT_SUBJECTS["en"]
    try:
        return str(template).format_map(_Blank(variables))
    except (ValueError, IndexError, AttributeError):  # a broken template: still a subject
        return str(template)


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""
