"""VK community messages: outbound through messages.send (our uploads through VK's upload
flow first) and inbound media downloads.

Channel credentials: access_token (a community token with the messages, photos and docs
rights). Channel settings: group_id (the community's id, positive), api_base (VK's method
endpoint; a local stand-in in tests).

One message of ours may go out as several VK messages (a text longer than a message,
more than 10 files). Each part gets its own random_id, derived from our message id, so a
part VK already took is not delivered twice when the send is retried (VK drops a repeated
random_id in the same dialog within the hour); within a process the parts already sent are
also remembered and skipped, which saves their uploads."""

import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from connectors.base import (
    Capabilities,
    Media,
    MediaUnavailable,
    OutboundFile,
    OutboundMessage,
    PermanentError,
    SendResult,
    TemporaryError,
)
from connectors.parts import SentParts
from connectors.text import split_text
from connectors.vk.client import DEFAULT_API_BASE, VkApi
from connectors.vk.errors import VkTemporaryError
from connectors.vk.parse import sent_message_key

TEXT_LIMIT = 4096
ATTACHMENTS_PER_MESSAGE = 10  # messages.send takes at most 10 attachments
PARTS_PER_MESSAGE = 256  # room for parts per message id in the random_id space
# What VK keeps as a photo (it recompresses photos); anything else goes as a document.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
PHOTO_MAX_BYTES = 50 * 1024 * 1024
# Hosts VK serves message files from. Downloads go only there: a forged event (say, on a
# channel without a secret) must not make us fetch an internal URL for an operator.
DEFAULT_MEDIA_HOSTS = (
    "vk.com",
    "vk.ru",
    "userapi.com",
    "vkuser.net",
    "vkuseraudio.net",
    "vkuservideo.net",
    "vk-cdn.net",
    "mycdn.me",
)
_MAX_REDIRECTS = 3


def random_id_for(message_id: int, part: int) -> int:
    """messages.send's random_id for part `part` of our message `message_id`: the same on
    every retry, never 0 (0 turns VK's check off), within int32 as VK requires. VK compares
    it with the last 100 messages of the dialog in the last hour, so two messages only
    collide when their ids are about 8 million apart and both went to one person within
    the hour."""
    if not 0 <= part < PARTS_PER_MESSAGE:
        raise PermanentError(f"a message cannot go out as more than {PARTS_PER_MESSAGE} parts")
    return (message_id * PARTS_PER_MESSAGE + part) % (2**31 - 1) + 1


def keyboard(buttons: Any) -> dict[str, Any] | None:
    """meta["buttons"] (rows of {"text", "data"|"callback_data"|"url"}, as for Telegram; a
    flat list is one button per row) -> an inline VK keyboard. A pressed data button comes
    back as a message_new whose payload is {"button": data} (parse.py: kind "button")."""
    if not buttons or not isinstance(buttons, list):
        return None
    rows: list[list[dict[str, Any]]] = []
    for row in (r if isinstance(r, list) else [r] for r in buttons):
        line = []
        for b in row:
            if not isinstance(b, dict) or not b.get("text"):
                raise PermanentError(f"Invalid inline button: {b!r}")
            label = str(b["text"])[:40]  # VK's limit for a label
            if b.get("url"):
                action = {"type": "open_link", "link": str(b["url"]), "label": label}
            else:
                data = b.get("data", b.get("callback_data", b["text"]))
                payload = json.dumps({"button": str(data)}, ensure_ascii=False)
                action = {"type": "text", "label": label, "payload": payload}
            line.append({"action": action})
        rows.append(line)
    return {"inline": True, "buttons": rows}


@dataclass
class _Part:
    text: str | None = None
    files: list[OutboundFile] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)  # VK attachment ids ("photo-1_2_key")


def plan(message: OutboundMessage, limit: int = TEXT_LIMIT) -> list[_Part]:
    """The VK messages one message of ours becomes, in order: the text parts (the last one
    carrying the first 10 attachments), then the remaining attachments 10 at a time.
    Provider-hosted media is sent by its VK id; a bare URL goes into the text (VK cannot
    attach by URL)."""
    refs: list[str] = []
    links: list[str] = []
    for a in message.attachments:
        vk_id = a.get("vk") or a.get("attachment")
        if isinstance(vk_id, str) and vk_id:
            refs.append(vk_id)
        elif isinstance(a.get("url") or a.get("link"), str):
            links.append(str(a.get("url") or a.get("link")))
        else:
            raise PermanentError('A VK attachment needs a VK id ("vk") or a url')
    text = "\n".join(p for p in (message.text or "", *links) if p)
    media: list[OutboundFile | str] = [*refs, *message.files]
    groups = [
        media[i : i + ATTACHMENTS_PER_MESSAGE]
        for i in range(0, len(media), ATTACHMENTS_PER_MESSAGE)
    ]
    parts = [_Part(text=t) for t in split_text(text, limit)] if text else []
    if not parts and not groups:
        raise PermanentError("nothing to send: no text and no files")
    if not parts:
        parts.append(_Part())
    for i, group in enumerate(groups):
        part = parts[-1] if i == 0 else _Part()
        part.refs = [m for m in group if isinstance(m, str)]
        part.files = [m for m in group if isinstance(m, OutboundFile)]
        if i > 0:
            parts.append(part)
    return parts


class VkConnector:
    channel_type = "vk"
    capabilities = Capabilities(
        media=True,
        edits=True,  # message_edit
        templates=False,
        typing=False,
        read_receipts=False,
        reply_window=False,  # message_allow / message_deny decide, not time
        initiates=False,  # only to someone who allowed messages: they wrote or pressed Allow
        max_text_length=TEXT_LIMIT,
    )
    # A community token may make 20 API calls a second; messages.send is one of them.
    rate_per_account: str | None = "20/second"
    rate_per_chat: str | None = None
    max_text_length: int | None = TEXT_LIMIT

    def __init__(
        self,
        api_base: str = DEFAULT_API_BASE,
        timeout: float = 15.0,
        media_hosts: tuple[str, ...] = DEFAULT_MEDIA_HOSTS,
    ) -> None:
        self.default_api_base = api_base
        self.timeout = timeout
        self.media_hosts = media_hosts
        self._apis: dict[str, VkApi] = {}
        self._parts = SentParts()

    def api_for(self, settings: dict[str, Any]) -> VkApi:
        """The API client for a channel (its api_base, else the default): users.get,
        groups.getById, the confirmation code, Long Poll (longpoll.poll_once)."""
        base = str(settings.get("api_base") or self.default_api_base).rstrip("/")
        api = self._apis.get(base)
        if api is None:
            api = self._apis[base] = VkApi(base, self.timeout)
        return api

    async def aclose(self) -> None:
        for api in self._apis.values():
            await api.aclose()

    async def close(self) -> None:
        """What connectors.registry.close_all calls at shutdown."""
        await self.aclose()

    async def send(
        self, credentials: dict[str, Any], settings: dict[str, Any], message: OutboundMessage
    ) -> SendResult:
        token = str(credentials.get("access_token") or "")
        group_id = _group_id(settings)
        try:
            peer_id = int(message.recipient_external_id)
        except ValueError:
            raise PermanentError("The recipient is not a VK peer id") from None
        parts = plan(message)
        markup = keyboard(message.meta.get("buttons"))
        api = self.api_for(settings)
        key = (group_id, message.message_id)
        sent = self._parts.take(key)
        try:
            for i, part in enumerate(parts[len(sent) :], start=len(sent)):
                uploaded = [await self._upload(api, token, peer_id, f) for f in part.files]
                result = await api.send_message(
                    token,
                    peer_id,
                    random_id_for(message.message_id, i),
                    part.text,
                    [*part.refs, *uploaded],
                    markup if i == len(parts) - 1 else None,
                )
                sent.append(
                    sent_message_key(group_id, result.peer_id, result.conversation_message_id)
                )
        except TemporaryError:
            self._parts.remember(key, sent)
            raise
        return SendResult(provider_message_id=",".join(sent))

    async def _upload(self, api: VkApi, token: str, peer_id: int, file: OutboundFile) -> str:
        if file.content_type in PHOTO_TYPES and len(file.content) <= PHOTO_MAX_BYTES:
            return await api.upload_photo(token, peer_id, file)
        return await api.upload_document(token, peer_id, file)

    async def fetch_media(
        self, credentials: dict[str, Any], settings: dict[str, Any], attachment: dict[str, Any]
    ) -> Media:
        """Inbound files come with VK's own URLs (photos, documents, voice, stickers): no
        token needed. Video and music are not served to communities: MediaUnavailable."""
        url = attachment.get("url")
        if not isinstance(url, str) or not url:
            raise MediaUnavailable("VK does not serve this attachment as a file")
        client = self.api_for(settings).http()
        try:
            for _ in range(_MAX_REDIRECTS + 1):
                self._check_host(url)
                r = await client.get(url, timeout=60.0)
                if not r.is_redirect:
                    break
                url = urljoin(url, r.headers.get("location", ""))
            else:
                raise MediaUnavailable("VK redirected the download too many times")
        except httpx.HTTPError as exc:
            raise VkTemporaryError(f"VK media unreachable: {type(exc).__name__}") from None
        if r.status_code == 429 or r.status_code >= 500:
            raise VkTemporaryError(f"VK media download failed (HTTP {r.status_code})", 5.0)
        if r.status_code >= 400:
            raise MediaUnavailable(f"VK no longer has this file (HTTP {r.status_code})")
        served = r.headers.get("content-type", "").split(";")[0].strip().lower()
        expected = attachment.get("mime_type")
        if served == "text/html" and expected != "text/html":
            # VK answers an expired or forbidden document link with a page, not the file.
            raise MediaUnavailable("VK answered with a page instead of the file (link expired?)")
        content_type = expected or served or "application/octet-stream"
        filename = attachment.get("filename") or PurePosixPath(urlsplit(url).path).name or None
        return Media(r.content, str(content_type), filename)

    def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        allowed = any(host == h or host.endswith(f".{h}") for h in self.media_hosts)
        if parts.scheme not in ("http", "https") or not allowed:
            raise MediaUnavailable("not a VK file address")


def _group_id(settings: dict[str, Any]) -> int:
    try:
        group_id = int(settings.get("group_id") or 0)
    except (TypeError, ValueError):
        group_id = 0
    if group_id <= 0:
        raise PermanentError("the channel has no VK group_id")
    return group_id
