"""Cloud API webhook bodies -> neutral InboundMessage / MessageEdit / StatusUpdate, in
payload order.

Nothing is dropped: a message type we do not translate becomes kind "unsupported" with the
raw message in meta, so operators still see that the client wrote."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.base import InboundMessage, MessageEdit, Sender, StatusUpdate

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
STATUS_STATES = ("sent", "delivered", "read", "failed")


class InvalidPayload(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One message or status, with the business number it was addressed to (one Meta app's
    webhook carries every number of the app)."""

    phone_number_id: str | None
    event: InboundMessage | MessageEdit | StatusUpdate


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
                msg = _parse_change(_dict(raw)) or _parse_message_safely(_dict(raw), contacts)
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


def _parse_change(m: dict[str, Any]) -> MessageEdit | None:
    """An edit or a deletion ("revoke") of a message the client sent before: it changes that
    message; it is not a message of its own."""
    mtype = m.get("type")
    if mtype not in ("edit", "revoke"):
        return None
    body = _dict(m.get(mtype))
    original = body.get("original_message_id")
    if not _scalar(original):
        return None  # nothing to apply it to: kept as an unsupported message
    at = _time(m.get("timestamp"))
    if mtype == "revoke":
        return MessageEdit(external_id=str(original), text=None, edited_at=at, deleted=True)
    try:
        _, text, _, _ = _content(_dict(body.get("message")))
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    return MessageEdit(external_id=str(original), text=_text(text), edited_at=at)


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
        if body.get("type") == "nfm_reply":
            return _flow_reply(choice)
        if body.get("type") == "call_permission_reply":
            return _call_permission(choice)
    if mtype == "order":
        return "order", _order_text(body), [], {"order": body}
    if mtype == "system":  # e.g. the client changed their number
        text = body.get("body") or f"System notice: {body.get('type') or 'unknown'}"
        return "system", text, [], {"system": body}
    if mtype == "button":  # a template's quick-reply button
        button = {"id": body.get("payload"), "title": body.get("text"), "source": "quick_reply"}
        return "button", body.get("text"), [], {"button": button}
    if mtype == "reaction":
        # An empty emoji means the client took the reaction back.
        return "reaction", body.get("emoji") or None, [], {"reaction": body}
    return "unsupported", None, [], {"raw": m}


def _order_text(order: dict[str, Any]) -> str:
    """ "Order: 2 × sku-1 (12.50 EUR), 1 × sku-2 (5 EUR)", then the client's note."""
    items = []
    for item in _list(order.get("product_items")):
        item = _dict(item)
        line = f"{item.get('quantity', 1)} × {item.get('product_retailer_id') or '?'}"
        if item.get("item_price") is not None:
            line += f" ({item['item_price']} {item.get('currency') or ''})".replace(" )", ")")
        items.append(line)
    text = "Order: " + (", ".join(items) if items else "no items")
    note = _text(order.get("text"))
    return f"{text}. {note}" if note else text


def _flow_reply(reply: dict[str, Any]) -> tuple[str, str | None, list[Any], dict[str, Any]]:
    """A WhatsApp Flow (form) the client completed: its answers, as "field: value" lines
    (the flow token only identifies the flow, so it is not shown)."""
    try:
        answers = json.loads(reply.get("response_json") or "{}")
    except (TypeError, ValueError):
        answers = {}
    answers = _dict(answers)
    lines = [f"{k}: {_shown(v)}" for k, v in answers.items() if k != "flow_token"]
    title = "Address" if reply.get("name") == "address_message" else "Form answered"
    text = title + (": " + "; ".join(lines) if lines else "")
    return "flow_reply", text, [], {"flow": {"name": reply.get("name"), "answers": answers}}


def _call_permission(reply: dict[str, Any]) -> tuple[str, str | None, list[Any], dict[str, Any]]:
    accepted = reply.get("response") == "accept"
    text = "Call permission " + ("granted" if accepted else "declined")
    if accepted and reply.get("is_permanent"):
        text += " (permanent)"
    elif accepted and (until := _time(reply.get("expiration_timestamp"))) is not None:
        text += f" until {until:%Y-%m-%d %H:%M} UTC"
    return "call_permission", text, [], {"call_permission": reply}


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
