"""Cloud API webhook bodies -> neutral InboundMessage / StatusUpdate, in payload order.

Nothing is dropped: a message type we do not translate becomes kind "unsupported" with the
raw message in meta, so operators still see that the client wrote."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.base import InboundMessage, Sender, StatusUpdate

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
STATUS_STATES = ("sent", "delivered", "read", "failed")


class InvalidPayload(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One message or status, with the business number it was addressed to (one Meta app's
    webhook carries every number of the app)."""

    phone_number_id: str | None
    event: InboundMessage | StatusUpdate


def parse_webhook(payload: Any) -> list[WebhookEvent]:
    if not isinstance(payload, dict):
        raise InvalidPayload("the body is not a JSON object")
    if payload.get("object") != "whatsapp_business_account":
        return []  # another product's webhook: nothing for us
    events: list[WebhookEvent] = []
    for entry in _list(payload.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            change = _dict(change)
            if change.get("field") != "messages":
                continue  # account, template and quality updates are not conversations
            value = _dict(change.get("value"))
            phone_number_id = _dict(value.get("metadata")).get("phone_number_id")
            contacts = [_dict(c) for c in _list(value.get("contacts"))]
            if phone_number_id is not None and not isinstance(phone_number_id, str | int):
                phone_number_id = None
            number = str(phone_number_id) if phone_number_id is not None else None
            for raw in _list(value.get("messages")):
                msg = _parse_message_safely(_dict(raw), contacts)
                if msg is not None:
                    events.append(WebhookEvent(number, msg))
            for raw in _list(value.get("statuses")):
                try:
                    status = parse_status(_dict(raw))
                except (TypeError, ValueError, KeyError, AttributeError):
                    status = None  # not a status we can apply: nothing to change
                if status is not None:
                    events.append(WebhookEvent(number, status))
    return events


def _parse_message_safely(
    m: dict[str, Any], contacts: list[dict[str, Any]]
) -> InboundMessage | None:
    """A message whose fields have unexpected shapes is kept as `unsupported` with its raw
    payload (never dropped, never an error), as long as it has an id and a sender."""
    try:
        return parse_message(m, contacts)
    except (TypeError, ValueError, KeyError, AttributeError):
        wamid = m.get("id")
        sender_id = m.get("from") or m.get("from_user_id")
        if not _scalar(wamid) or not _scalar(sender_id):
            return None
        return InboundMessage(
            sender=Sender(external_id=str(sender_id)),
            external_id=str(wamid),
            kind="unsupported",
            meta={"raw": m},
        )


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value) != ""


def _text(value: Any, limit: int | None = None) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value)
    return text[:limit] if limit else text


def parse_message(m: dict[str, Any], contacts: list[dict[str, Any]]) -> InboundMessage | None:
    wamid = m.get("id")
    sender_id = m.get("from") or m.get("from_user_id")
    if not _scalar(wamid) or not _scalar(sender_id):
        return None  # without a key or a sender it cannot be stored once and only once
    kind, text, attachments, meta = _content(m)
    text = _text(text)
    meta = {"wa_type": m.get("type"), **meta}
    if m.get("from_user_id"):
        meta["user_id"] = m["from_user_id"]
    context = _dict(m.get("context"))
    if context.get("forwarded") or context.get("frequently_forwarded"):
        meta["forwarded"] = True
    reply_to = context.get("id")
    if kind == "reaction":
        reply_to = _dict(m.get("reaction")).get("message_id")
    reply_to = str(reply_to) if _scalar(reply_to) else None
    return InboundMessage(
        sender=_sender(m, contacts),
        external_id=str(wamid),
        text=text,
        kind=kind,
        attachments=attachments,
        reply_to_external_id=reply_to,
        sent_at=_time(m.get("timestamp")),
        meta=meta,
    )


def parse_status(s: dict[str, Any]) -> StatusUpdate | None:
    state = s.get("status")
    if not _scalar(s.get("id")) or not isinstance(state, str) or state not in STATUS_STATES:
        return None  # e.g. "deleted", "played": no delivery state of ours follows
    code = title = None
    errors = [_dict(e) for e in _list(s.get("errors"))]
    if errors:
        first = errors[0]
        code = str(first["code"]) if first.get("code") is not None else None
        title = _text(first.get("title") or first.get("message"), 2000)
    return StatusUpdate(
        provider_message_id=str(s["id"]),
        state=state,
        at=_time(s.get("timestamp")),
        error_code=code,
        error_title=title,
    )


def _sender(m: dict[str, Any], contacts: list[dict[str, Any]]) -> Sender:
    wa_id = m.get("from")
    user_id = m.get("from_user_id")
    contact = next(
        (
            c
            for c in contacts
            if (wa_id and c.get("wa_id") == wa_id) or (user_id and c.get("user_id") == user_id)
        ),
        contacts[0] if len(contacts) == 1 else {},
    )
    profile = _dict(contact.get("profile"))
    wa_id = wa_id or contact.get("wa_id")
    wa_id = wa_id if _scalar(wa_id) else None
    user_id = user_id if _scalar(user_id) else None
    referral = _dict(m.get("referral"))  # click-to-WhatsApp ads: where the lead came from
    source = referral.get("source_url") or referral.get("headline")
    return Sender(
        # The phone-based wa_id when Meta shares it, else the business-scoped user id
        # (username-only contacts, 2026): never assume a phone number.
        external_id=str(wa_id or user_id),
        name=_text(profile.get("name"), 200),
        username=_text(profile.get("username") or contact.get("username"), 200),
        phone=f"+{wa_id}" if wa_id and str(wa_id).isdigit() else None,
        source=_text(source, 500),
    )


def _content(m: dict[str, Any]) -> tuple[str, str | None, list[dict[str, Any]], dict[str, Any]]:
    """(kind, text, attachments, meta) of one message."""
    mtype = m.get("type")
    body = _dict(m.get(mtype)) if isinstance(mtype, str) else {}
    if mtype == "text":
        return "text", body.get("body"), [], {}
    if mtype in MEDIA_TYPES:
        attachment = {"type": mtype, "media_id": body.get("id")}
        for key in ("mime_type", "sha256", "filename", "voice", "animated"):
            if body.get(key) is not None:
                attachment[key] = body[key]
        return mtype, body.get("caption"), [attachment], {}
    if mtype == "location":
        label = ", ".join(str(body[k]) for k in ("name", "address") if body.get(k))
        text = label or f"{body.get('latitude')}, {body.get('longitude')}"
        return "location", text, [], {"location": body}
    if mtype == "contacts":
        cards = _list(m.get("contacts"))
        names = [_dict(_dict(c).get("name")).get("formatted_name") for c in cards]
        return "contacts", ", ".join(n for n in names if n) or None, [], {"contacts": cards}
    if mtype == "interactive":
        choice = _dict(body.get(body.get("type") or ""))
        if body.get("type") in ("button_reply", "list_reply") and choice.get("id"):
            button = {"id": choice["id"], "title": choice.get("title"), "source": body["type"]}
            return "button", choice.get("title"), [], {"button": button}
    if mtype == "button":  # a template's quick-reply button
        button = {"id": body.get("payload"), "title": body.get("text"), "source": "quick_reply"}
        return "button", body.get("text"), [], {"button": button}
    if mtype == "reaction":
        # An empty emoji means the client took the reaction back.
        return "reaction", body.get("emoji") or None, [], {"reaction": body}
    return "unsupported", None, [], {"raw": m}


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
