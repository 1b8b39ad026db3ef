"""Telegram Update JSON -> neutral inbound types.

Works on the raw JSON (webhook body, or a getUpdates result dumped back to JSON) so that
anything this module does not understand can be stored verbatim as "unsupported".

Idempotency keys: a message is "<chat id>:<message id>" (the same for its redelivered update
and its later edits), a button press is "cb:<callback query id>", any other update is
"update:<update id>"."""

import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

from connectors.base import InboundMessage, MessageEdit, Sender

# Order matters: an animation message also carries a "document".
_MEDIA = (
    ("animation", "animation"),
    ("photo", "image"),
    ("video", "video"),
    ("video_note", "video"),
    ("voice", "voice"),
    ("audio", "audio"),
    ("sticker", "sticker"),
    ("document", "document"),
)
_FILE_FIELDS = (
    "file_id",
    "file_unique_id",
    "file_size",
    "file_name",
    "mime_type",
    "width",
    "height",
    "duration",
    "emoji",
)
_GROUP_CHATS = ("group", "supergroup")
_START = re.compile(r"^/start(?:@\w+)?(?:\s+(\S+))?\s*$")
# Keys every message has; the first other key says what the message carries.
_ENVELOPE = {
    "message_id",
    "message_thread_id",
    "from",
    "sender_chat",
    "chat",
    "date",
    "edit_date",
    "reply_to_message",
    "entities",
    "caption_entities",
    "is_topic_message",
    "has_protected_content",
    "author_signature",
    "via_bot",
    "forward_origin",
    "is_automatic_forward",
    "link_preview_options",
    "reply_markup",
    "media_group_id",
    "business_connection_id",
    "sender_boost_count",
    "quote",
    "external_reply",
    "show_caption_above_media",
    "has_media_spoiler",
}


class InvalidUpdate(ValueError):
    """The body is not a Telegram Update at all (no update_id)."""


@dataclass(frozen=True, slots=True)
class ParsedUpdate:
    update_id: int
    message: InboundMessage
    # Set for edited messages: apply it; `message` is then the edited version to store
    # as new when the original never reached us.
    edit: MessageEdit | None = None
    # Set for button presses: answering it stops the spinner on the user's button.
    callback_query_id: str | None = None


def message_key(chat_id: Any, message_id: Any) -> str:
    return f"{chat_id}:{message_id}"


def parse_update(update: Any) -> ParsedUpdate:
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        raise InvalidUpdate("not a Telegram Update: no integer update_id")
    update_id: int = update["update_id"]
    try:
        return _parse_known(update_id, update)
    except (TypeError, AttributeError, KeyError, ValueError, IndexError):
        # A known kind with fields of unexpected shapes: kept raw, never dropped.
        return ParsedUpdate(update_id, _unsupported(update))


def _parse_known(update_id: int, update: dict[str, Any]) -> ParsedUpdate:
    message = update.get("message")
    if _is_message(message):
        return ParsedUpdate(update_id, _parse_message(message, update))
    edited = update.get("edited_message")
    if _is_message(edited):
        stored = _parse_message(edited, update)
        edit = MessageEdit(
            external_id=stored.external_id,
            text=stored.text,
            edited_at=_time(edited.get("edit_date")),
            attachments=stored.attachments or None,
        )
        return ParsedUpdate(update_id, stored, edit=edit)
    callback = update.get("callback_query")
    if isinstance(callback, dict) and isinstance(callback.get("from"), dict):
        return ParsedUpdate(
            update_id, _parse_callback(callback), callback_query_id=str(callback.get("id"))
        )
    return ParsedUpdate(update_id, _unsupported(update))


def _is_message(value: Any) -> TypeGuard[dict[str, Any]]:
    return (
        isinstance(value, dict)
        and isinstance(value.get("chat"), dict)
        and "id" in value["chat"]
        and "message_id" in value
    )


def _time(unix: Any) -> datetime | None:
    return datetime.fromtimestamp(unix, UTC) if isinstance(unix, int | float) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _full_name(person: dict[str, Any]) -> str | None:
    parts = (_str(person.get("first_name")), _str(person.get("last_name")))
    name = " ".join(p for p in parts if p)
    return name or _str(person.get("title"))


def _sender(chat: dict[str, Any], user: dict[str, Any] | None, **extra: Any) -> Sender:
    """In a group the group itself is the contact: replies go back to the group, and the
    author of each message is kept in the message's meta."""
    if chat.get("type") in _GROUP_CHATS or user is None:
        return Sender(external_id=str(chat["id"]), name=_full_name(chat), **extra)
    return Sender(
        external_id=str(user["id"]),
        name=_full_name(user),
        username=_str(user.get("username")),
        **extra,
    )


def _author(user: dict[str, Any] | None, on_behalf: Any = None) -> dict[str, Any] | None:
    """Who wrote a group message: the user, or the chat it was sent on behalf of (an
    anonymous admin, a linked channel)."""
    if user is None or isinstance(on_behalf, dict):
        user = on_behalf if isinstance(on_behalf, dict) else None
    if user is None:
        return None
    return {"id": user.get("id"), "name": _full_name(user), "username": user.get("username")}


def _place(message: dict[str, Any]) -> dict[str, Any]:
    """A shared location or venue: coordinates (and the venue's name and address, named as
    WhatsApp names them)."""
    venue = message.get("venue") if isinstance(message.get("venue"), dict) else None
    point = venue["location"] if venue else message["location"]
    place: dict[str, Any] = {
        "latitude": float(point["latitude"]),
        "longitude": float(point["longitude"]),
    }
    for key in ("horizontal_accuracy", "live_period"):
        if key in point:
            place[key] = point[key]
    if venue:
        place |= {"name": _str(venue.get("title")), "address": _str(venue.get("address"))}
    return place


def _place_text(place: dict[str, Any]) -> str:
    coordinates = f"{place['latitude']:.6f}, {place['longitude']:.6f}"
    label = ", ".join(p for p in (place.get("name"), place.get("address")) if p)
    return f"{label} ({coordinates})" if label else f"Location: {coordinates}"


def _media(message: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    for field, kind in _MEDIA:
        value = message.get(field)
        if field == "photo" and isinstance(value, list) and value:
            value = max(value, key=lambda size: size.get("file_size") or 0)  # the largest
        if isinstance(value, dict) and value.get("file_id"):
            attachment = {"type": kind} | {k: value[k] for k in _FILE_FIELDS if k in value}
            return kind, [attachment]
    return None, []


def _phone(raw: str) -> str:
    # Telegram sends numbers with or without the leading "+".
    return f"+{raw}" if raw.isdigit() else raw


def _parse_message(message: dict[str, Any], update: dict[str, Any]) -> InboundMessage:
    chat: dict[str, Any] = message["chat"]
    user = message.get("from") if isinstance(message.get("from"), dict) else None
    text = message.get("text") if "text" in message else message.get("caption")
    meta: dict[str, Any] = {"update_id": update["update_id"], "chat_type": chat.get("type")}
    if chat.get("type") in _GROUP_CHATS:
        meta["author"] = _author(user, message.get("sender_chat"))
    sender_extra: dict[str, Any] = {}

    kind, attachments = _media(message)
    if kind is None:
        if isinstance(message.get("text"), str):
            kind = "text"
            start = _START.match(message["text"])
            if start:
                meta["command"] = "start"
                if start.group(1):
                    meta["start_payload"] = start.group(1)
                    sender_extra["source"] = start.group(1)
        elif isinstance(message.get("contact"), dict):
            kind = "contact"
            contact = message["contact"]
            meta["contact"] = contact
            phone = _phone(str(contact.get("phone_number", "")))
            text = " ".join(p for p in (_full_name(contact), phone) if p)
            # Only the user's own number describes them; a forwarded card is someone else.
            if user is not None and contact.get("user_id") == user.get("id"):
                sender_extra["phone"] = phone
        elif isinstance(message.get("venue"), dict) or isinstance(message.get("location"), dict):
            kind = "location"
            meta["location"] = _place(message)
            text = _place_text(meta["location"])
        else:
            kind = "unsupported"
            meta["content_type"] = next((k for k in message if k not in _ENVELOPE), None)
            meta["raw"] = update

    reply = message.get("reply_to_message")
    reply_key = None
    if isinstance(reply, dict) and "message_id" in reply:
        reply_key = message_key(chat["id"], reply["message_id"])
        snippet = reply.get("text") or reply.get("caption")
        meta["reply_to"] = {
            "message_id": reply["message_id"],
            "text": snippet[:200] if isinstance(snippet, str) else None,
            "from_bot": bool((reply.get("from") or {}).get("is_bot")),
        }

    return InboundMessage(
        sender=_sender(chat, user, **sender_extra),
        external_id=message_key(chat["id"], message["message_id"]),
        text=text if isinstance(text, str) else None,
        kind=kind,
        attachments=attachments,
        reply_to_external_id=reply_key,
        sent_at=_time(message.get("date")),
        meta=meta,
    )


def _button_label(message: dict[str, Any], data: str | None) -> str | None:
    markup = message.get("reply_markup") or {}
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            if isinstance(button, dict) and button.get("callback_data") == data:
                label = button.get("text")
                return label if isinstance(label, str) else None
    return None


def _parse_callback(callback: dict[str, Any]) -> InboundMessage:
    user: dict[str, Any] = callback["from"]
    message = callback.get("message") if _is_message(callback.get("message")) else None
    chat = message["chat"] if message else {"id": user["id"], "type": "private"}
    # Only strings: a malformed update's list or number must not reach the text.
    data = next(
        (
            v
            for v in (callback.get("data"), callback.get("game_short_name"))
            if isinstance(v, str) and v
        ),
        None,
    )
    label = _button_label(message, data) if message else None
    meta: dict[str, Any] = {
        "callback_query_id": callback.get("id"),
        "callback_data": data,
        "button_text": label,
    }
    reply_key = None
    if message:
        reply_key = message_key(chat["id"], message["message_id"])
        meta["message_external_id"] = reply_key
    if chat.get("type") in _GROUP_CHATS:
        meta["author"] = _author(user)
    return InboundMessage(
        sender=_sender(chat, user),
        external_id=f"cb:{callback.get('id')}",
        text=label or data,
        kind="button",
        reply_to_external_id=reply_key,
        meta=meta,
    )


def _find_person(update: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The chat and user an unknown update is about, wherever they sit in it."""
    for value in update.values():
        if isinstance(value, dict):
            chat = value.get("chat") if isinstance(value.get("chat"), dict) else None
            user = value.get("from") if isinstance(value.get("from"), dict) else None
            if (chat and "id" in chat) or (user and "id" in user):
                return chat, user
    return None, None


def _unsupported(update: dict[str, Any]) -> InboundMessage:
    chat, user = _find_person(update)
    sender = Sender(external_id="telegram", name="Telegram")
    with contextlib.suppress(TypeError, AttributeError, KeyError, ValueError):
        if chat is not None:
            sender = _sender(chat, user)
        elif user is not None:
            sender = _sender({"id": user["id"], "type": "private"}, user)
    update_type = next((k for k in update if k != "update_id"), None)
    return InboundMessage(
        sender=sender,
        external_id=f"update:{update['update_id']}",
        kind="unsupported",
        meta={"update_id": update["update_id"], "update_type": update_type, "raw": update},
    )
