"""VK community events (a Callback API body, or one update of a Bots Long Poll answer: the
same JSON) -> neutral inbound types.

Idempotency key of a message: "<group id>:<peer id>:<conversation_message_id>". The same
message has the same key in its Callback delivery, its redeliveries, its Long Poll
delivery and its later edits (message_edit carries the same ids), and a reply names its
original by it. A message VK sends without a conversation_message_id falls back to its
message id ("<group id>:id<message id>").

Nothing is dropped: a message_new whose fields have unexpected shapes is kept as
"unsupported" with the raw event in meta."""

import hmac
import json
import mimetypes
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.base import InboundMessage, MessageEdit, Sender

# peer_id of a group chat (a "беседа") = this + the chat's id; below it, a person.
CHAT_PEER_OFFSET = 2_000_000_000
_MAX_FORWARDS = 20  # forwarded messages summarised into one inbound text
_MAX_DEPTH = 3  # forwards of forwards shown
# VK's photo size letters, smallest to largest (o-r are cropped variants of the same).
_SIZE_RANK = {t: i for i, t in enumerate("smxopqryzw")}


@dataclass(frozen=True, slots=True)
class MessagePermission:
    """message_allow / message_deny: the user allowed messages from the community (pressed
    "Allow messages", or wrote first) or forbade them. A denied user cannot be written to
    (messages.send answers 901) until they allow them again: record it on the contact."""

    external_id: str  # the user's id: the Sender.external_id of their messages
    allowed: bool
    key: str | None = None  # what messages.allowMessagesFromGroup was given (a widget's tag)


VkEvent = InboundMessage | MessageEdit | MessagePermission


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """What to answer VK's POST and what it brought. VK wants HTTP 200 with "ok" (or the
    confirmation code); anything else counts as a failed delivery and is retried, and a
    server failing repeatedly is switched off: answer "ok" only after storing `events`."""

    status: int
    body: str
    events: tuple[VkEvent, ...] = ()
    event_id: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == 200


def group_id_of(body: Any) -> int | None:
    """The community an event is for (to find its channel when one URL serves many)."""
    event = _decode(body)
    value = event.get("group_id") if event else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def handle_callback(
    body: bytes | str | dict[str, Any],
    *,
    group_id: int,
    confirmation_code: str | None,
    secret: str | None,
) -> CallbackResult:
    """One Callback API request for the channel of community `group_id`. The confirmation
    handshake is answered with the channel's code; every other event must carry the
    channel's secret (a channel without one accepts nothing but the handshake)."""
    event = _decode(body)
    if event is None or not isinstance(event.get("type"), str):
        return CallbackResult(400, "not a VK event")
    if group_id_of(event) != group_id:
        return CallbackResult(403, "wrong community")
    if event["type"] == "confirmation":
        if not confirmation_code:
            return CallbackResult(503, "no confirmation code configured")
        return CallbackResult(200, confirmation_code)
    if not secret:
        return CallbackResult(403, "no secret configured for this channel")
    given = event.get("secret")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), secret.encode()):
        return CallbackResult(403, "wrong secret")
    event_id = event.get("event_id")
    return CallbackResult(
        200,
        "ok",
        tuple(parse_event(event, group_id)),
        event_id if isinstance(event_id, str) else None,
    )


def parse_event(event: dict[str, Any], group_id: int) -> list[VkEvent]:
    """One event ({"type", "object", "group_id", "event_id", "v"}) -> what the app applies;
    [] for events a chat centre does not need (typing, wall posts, ...)."""
    kind = event.get("type")
    obj = event.get("object")
    if not isinstance(obj, dict):
        return []
    if kind == "message_new":
        try:
            # API 5.103+: {"message": {...}, "client_info": {...}}; before: the message.
            message = obj["message"] if isinstance(obj.get("message"), dict) else obj
            return [parse_message(message, group_id, obj.get("client_info"))]
        except (TypeError, ValueError, KeyError, AttributeError, IndexError):
            return [_unsupported(event, group_id)]
    if kind == "message_edit":
        try:
            edit = parse_edit(obj, group_id)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError):
            return []  # nothing we can apply it to
        return [edit] if edit is not None else []
    if kind in ("message_allow", "message_deny") and _int(obj.get("user_id")):
        key = obj.get("key")
        return [
            MessagePermission(
                external_id=str(obj["user_id"]),
                allowed=kind == "message_allow",
                key=key if isinstance(key, str) and key else None,
            )
        ]
    return []


def message_key(group_id: int, message: dict[str, Any]) -> str:
    cmid = _int(message.get("conversation_message_id"))
    peer = _int(message.get("peer_id"))
    if cmid and peer:
        return f"{group_id}:{peer}:{cmid}"
    return f"{group_id}:id{int(message['id'])}"


def sent_message_key(group_id: int, peer_id: int, conversation_message_id: int) -> str:
    """The key of a message the community sent (messages.send's answer), in the form
    inbound messages use, so a reply to it finds it."""
    return f"{group_id}:{peer_id}:{conversation_message_id}"


def parse_message(
    message: dict[str, Any], group_id: int, client_info: Any = None
) -> InboundMessage:
    peer_id = int(message["peer_id"])
    from_id = _int(message.get("from_id")) or peer_id
    kind, text, attachments, meta = _content(message)
    meta = {"peer_id": peer_id, "from_id": from_id, **meta}
    if message.get("id"):
        meta["message_id"] = message["id"]
    if isinstance(client_info, dict):
        meta["client_info"] = client_info  # keyboards, inline keyboards, carousel support
    if peer_id >= CHAT_PEER_OFFSET:
        meta["author"] = {"id": from_id}

    reply_key = None
    reply = message.get("reply_message")
    if isinstance(reply, dict) and (reply.get("conversation_message_id") or reply.get("id")):
        reply = {"peer_id": peer_id, **reply}
        reply_key = message_key(group_id, reply)
        snippet = reply.get("text")
        meta["reply_to"] = {
            "from_id": reply.get("from_id"),
            "conversation_message_id": reply.get("conversation_message_id"),
            "text": snippet[:200] if isinstance(snippet, str) else None,
            "from_community": _int(reply.get("from_id")) == -group_id,
        }

    ref = message.get("ref")
    return InboundMessage(
        # In a group chat the chat is the contact (replies go back to it); the author of
        # each message is in meta. In a dialog peer_id is the user's id.
        sender=Sender(external_id=str(peer_id), source=ref if isinstance(ref, str) else None),
        external_id=message_key(group_id, message),
        text=text,
        kind=kind,
        attachments=attachments,
        reply_to_external_id=reply_key,
        sent_at=_time(message.get("date")),
        meta=meta,
    )


def parse_edit(message: dict[str, Any], group_id: int) -> MessageEdit | None:
    if message.get("out") == 1 or _int(message.get("from_id")) == -group_id:
        return None  # the community edited its own message: not the client's words
    _, text, attachments, _ = _content(message)
    return MessageEdit(
        external_id=message_key(group_id, message),
        text=text,
        edited_at=_time(message.get("update_time") or message.get("date")),
        attachments=attachments or None,
    )


def _content(
    message: dict[str, Any],
) -> tuple[str, str | None, list[dict[str, Any]], dict[str, Any]]:
    """(kind, text, attachments, meta) of one message, forwards and all."""
    text = _str(message.get("text"))
    meta: dict[str, Any] = {}
    attachments, others = _attachments(message.get("attachments"))
    kind = attachments[0]["type"] if attachments else None
    if others:
        meta["other_attachments"] = others
        text = "\n".join(p for p in (text, *(_placeholder(o) for o in others)) if p)

    place = _place(message.get("geo"))
    if place is not None:
        meta["location"] = place
        kind = kind or "location"
        text = text or _place_text(place)

    forwards = message.get("fwd_messages")
    if isinstance(forwards, list) and forwards:
        summary: list[dict[str, Any]] = []
        lines = _forward_lines(forwards, 1, summary, attachments)
        meta["forwarded"] = summary
        text = "\n".join(p for p in (text, *lines) if p)

    payload = message.get("payload")
    if isinstance(payload, str) and payload:
        value = _json(payload)
        meta["button"] = {"payload": value, "text": text or None}
        if isinstance(value, dict) and "button" in value:
            meta["button"]["data"] = value["button"]  # one of our inline buttons
            meta["data"] = value["button"]  # where the app reads a pressed button's data
        if isinstance(value, dict) and value.get("command") == "start":
            meta["command"] = "start"  # the community's "Start" button
        kind = "button"

    action = message.get("action")
    if kind is None and isinstance(action, dict):
        kind = "system"  # a group chat's service message (someone invited, title changed)
        meta["action"] = action
        text = text or f"Chat action: {action.get('type') or 'unknown'}"

    if kind is None:
        kind = "text" if text else "unsupported"
    if kind == "unsupported":
        meta["raw"] = message
    return kind, text or None, attachments, meta


def _attachments(raw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(files we can show or fetch, everything else as {"type", ...} for the record)."""
    files: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            continue
        vk_type = item["type"]
        obj = _dict(item.get(vk_type))
        made = _file(vk_type, obj)
        if made is not None:
            files.append(made)
        else:
            others.append(_other(vk_type, obj))
    return files, others


def _file(vk_type: str, obj: dict[str, Any]) -> dict[str, Any] | None:
    if vk_type == "photo":
        best = _largest_photo(obj)
        if best is None:
            return None
        return {"type": "image", "mime_type": "image/jpeg", **best, "vk": _vk_id("photo", obj)}
    if vk_type == "graffiti" and obj.get("url"):
        return {
            "type": "image",
            "mime_type": "image/png",
            "url": obj["url"],
            "vk": _vk_id("doc", obj),
        }
    if vk_type == "doc" and obj.get("url"):
        name = _doc_name(obj)
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        doc = {"type": "document", "url": obj["url"], "filename": name, "mime_type": mime}
        if isinstance(obj.get("size"), int):
            doc["size"] = obj["size"]
        return doc | {"vk": _vk_id("doc", obj)}
    if vk_type == "audio_message" and (obj.get("link_ogg") or obj.get("link_mp3")):
        ogg = bool(obj.get("link_ogg"))
        voice: dict[str, Any] = {
            "type": "voice",
            "url": obj["link_ogg"] if ogg else obj["link_mp3"],
            "mime_type": "audio/ogg" if ogg else "audio/mpeg",
            "duration": obj.get("duration"),
            "vk": _vk_id("audio_message", obj),
        }
        if isinstance(obj.get("transcript"), str) and obj["transcript"]:
            voice["transcript"] = obj["transcript"]  # VK's speech-to-text, when done
        return voice
    if vk_type == "sticker":
        image = _largest(obj.get("images")) or _largest(obj.get("images_with_background"))
        if image is None:
            return None
        return {  # no mime_type: VK serves stickers as PNG or WebP, its answer says which
            "type": "sticker",
            "url": image["url"],
            "width": image.get("width"),
            "height": image.get("height"),
            "sticker_id": obj.get("sticker_id"),
            "product_id": obj.get("product_id"),
        }
    return None


def _other(vk_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Attachments VK does not let us download (video, music) or that are not files
    (links, wall posts, polls...): kept for the operator as a record and a link."""
    other: dict[str, Any] = {"type": vk_type}
    for key in ("title", "url", "duration", "artist", "question", "description"):
        if isinstance(obj.get(key), str | int) and obj.get(key) != "":
            other[key] = obj[key]
    if vk_type in ("video", "wall", "audio") and "id" in obj:
        owner = obj.get("owner_id", obj.get("from_id"))
        other["link"] = f"https://vk.com/{vk_type}{owner}_{obj['id']}"
    return other


def _placeholder(other: dict[str, Any]) -> str:
    label = other.get("title") or other.get("question") or other.get("url") or other.get("link")
    return f"[{other['type']}: {label}]" if label else f"[{other['type']}]"


def _largest_photo(photo: dict[str, Any]) -> dict[str, Any] | None:
    orig = photo.get("orig_photo")
    if isinstance(orig, dict) and orig.get("url"):
        return {"url": orig["url"], "width": orig.get("width"), "height": orig.get("height")}
    best = _largest(photo.get("sizes"))
    if best is None:
        return None
    return {"url": best["url"], "width": best.get("width"), "height": best.get("height")}


def _largest(sizes: Any) -> dict[str, Any] | None:
    """By area, then by VK's size letter (old photos report 0 x 0 for every size)."""
    usable = (
        [s for s in sizes or [] if isinstance(s, dict) and s.get("url")]
        if isinstance(sizes, list)
        else []
    )
    if not usable:
        return None
    return max(
        usable,
        key=lambda s: (
            (s.get("width") or 0) * (s.get("height") or 0),
            _SIZE_RANK.get(str(s.get("type")), -1),
        ),
    )


def _doc_name(doc: dict[str, Any]) -> str:
    title = str(doc.get("title") or "document")
    ext = doc.get("ext")
    if isinstance(ext, str) and ext and not title.lower().endswith(f".{ext.lower()}"):
        return f"{title}.{ext}"
    return title


def _vk_id(kind: str, obj: dict[str, Any]) -> str | None:
    if "id" not in obj or "owner_id" not in obj:
        return None
    ident = f"{kind}{obj['owner_id']}_{obj['id']}"
    return f"{ident}_{obj['access_key']}" if obj.get("access_key") else ident


def _place(geo: Any) -> dict[str, Any] | None:
    if not isinstance(geo, dict) or not isinstance(geo.get("coordinates"), dict):
        return None
    point = geo["coordinates"]
    place: dict[str, Any] = {
        "latitude": float(point["latitude"]),
        "longitude": float(point["longitude"]),
    }
    venue = _dict(geo.get("place"))
    name = venue.get("title")
    address = ", ".join(
        str(venue[k]) for k in ("city", "country") if isinstance(venue.get(k), str) and venue[k]
    )
    if isinstance(name, str) and name:
        place["name"] = name
    if address:
        place["address"] = address
    return place


def _place_text(place: dict[str, Any]) -> str:
    coordinates = f"{place['latitude']:.6f}, {place['longitude']:.6f}"
    label = ", ".join(p for p in (place.get("name"), place.get("address")) if p)
    return f"{label} ({coordinates})" if label else f"Location: {coordinates}"


def _forward_lines(
    forwards: list[Any],
    depth: int,
    summary: list[dict[str, Any]],
    attachments: list[dict[str, Any]],
) -> list[str]:
    """Forwarded messages as quoted text ("> " per level), their files added to the
    message's attachments (marked forwarded), and a short record of each in `summary`."""
    lines: list[str] = []
    quote = "> " * depth
    for fwd in forwards:
        if not isinstance(fwd, dict) or len(summary) >= _MAX_FORWARDS:
            continue
        from_id = _int(fwd.get("from_id"))
        author = f"vk.com/id{from_id}" if from_id > 0 else f"community {-from_id}"
        files, others = _attachments(fwd.get("attachments"))
        text = _str(fwd.get("text"))
        summary.append(
            {"from_id": from_id, "date": fwd.get("date"), "text": text[:500], "depth": depth}
        )
        attachments.extend(f | {"forwarded": True} for f in files)
        lines.append(f"{quote}Forwarded from {author}:")
        body = [*(text.splitlines() if text else []), *(f"[{f['type']}]" for f in files)]
        body += [_placeholder(o) for o in others]
        lines += [f"{quote}{line}" for line in body]
        nested = fwd.get("fwd_messages")
        if isinstance(nested, list) and nested and depth < _MAX_DEPTH:
            lines += _forward_lines(nested, depth + 1, summary, attachments)
    return lines


def _unsupported(event: dict[str, Any], group_id: int) -> InboundMessage:
    obj = _dict(event.get("object"))
    message = _dict(obj.get("message")) or obj
    peer = _int(message.get("peer_id")) or _int(message.get("from_id"))
    return InboundMessage(
        sender=Sender(external_id=str(peer)) if peer else Sender(external_id="vk", name="VK"),
        external_id=f"{group_id}:event:{event.get('event_id')}",
        kind="unsupported",
        meta={"event_type": event.get("type"), "raw": event},
    )


def _decode(body: Any) -> dict[str, Any] | None:
    if isinstance(body, bytes | str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    return body if isinstance(body, dict) else None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return 0


def _time(unix: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(unix), UTC) if unix else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None
