"""Sends through the Graph API (POST /{phone-number-id}/messages; our uploads go to
POST /{phone-number-id}/media first and are sent by media id) and downloads inbound
media (GET /{media-id} for a short-lived URL, then GET that URL), both with the channel's
bearer token. Credentials arrive per call; only the connection pool is shared."""

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

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
from connectors.whatsapp.errors import error_from_response
from connectors.whatsapp.parse import MEDIA_TYPES

DEFAULT_GRAPH_API_BASE = "https://graph.facebook.com/v23.0"
CAPTIONED = ("image", "video", "document")
CAPTION_LIMIT = 1024
# Meta's supported image media: JPEG and PNG up to 5 MB (anything else goes as a document).
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
IMAGE_MAX_BYTES = 5 * 1024 * 1024


def is_phone_id(recipient: str) -> bool:
    """wa_ids are digits; business-scoped user ids look like "US.13491208655302741918"."""
    return recipient.isdigit()


@dataclass(frozen=True, slots=True)
class _Account:
    base: str
    phone_number_id: str
    token: str

    @property
    def auth(self) -> str:
        return f"Bearer {self.token}"


def _sendable_image(file: OutboundFile) -> bool:
    """What WhatsApp takes as an image message; other files go as documents."""
    return file.content_type in IMAGE_TYPES and len(file.content) <= IMAGE_MAX_BYTES


async def _ready(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


def _addressed(message: OutboundMessage) -> dict[str, Any]:
    recipient = message.recipient_external_id
    payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    payload["to" if is_phone_id(recipient) else "recipient"] = recipient
    return payload


def _text_payload(message: OutboundMessage) -> dict[str, Any]:
    return _addressed(message) | {
        "type": "text",
        "text": {"body": message.text, "preview_url": False},
    }


def build_payload(message: OutboundMessage) -> dict[str, Any]:
    """The Cloud API body for one outbound message: a template, one media by link, or text."""
    payload = _addressed(message)
    template = message.meta.get("template")
    if template:
        body: dict[str, Any] = {
            "name": template["name"],
            "language": {"code": template["language"]},
        }
        params = template.get("parameters") or []
        if params:
            body["components"] = [
                {"type": "body", "parameters": [{"type": "text", "text": str(p)} for p in params]}
            ]
        payload.update(type="template", template=body)
        return payload
    if message.attachments:
        if len(message.attachments) > 1:
            raise PermanentError("WhatsApp sends one media file per message")
        att = message.attachments[0]
        mtype, link = att.get("type"), att.get("link")
        if mtype not in MEDIA_TYPES or not link:
            raise PermanentError("a WhatsApp media send needs a type (image, ...) and a link")
        media: dict[str, Any] = {"link": link}
        if message.text and mtype in CAPTIONED:
            media["caption"] = message.text
        if mtype == "document" and att.get("filename"):
            media["filename"] = att["filename"]
        payload.update({"type": mtype, mtype: media})
        return payload
    if not message.text:
        raise PermanentError("nothing to send: no text, media or template")
    return _text_payload(message)


class WhatsAppConnector:
    channel_type = "whatsapp"
    # Free text only within 24 hours of the client's last message; an approved template
    # reaches anyone with a WhatsApp number, even someone who never wrote.
    capabilities = Capabilities(
        media=True,
        edits=True,
        templates=True,
        typing=False,
        read_receipts=True,
        reply_window=True,
        initiates=True,
        max_text_length=4096,
    )
    rate_per_chat: str | None = None
    max_text_length: int | None = 4096  # a text message's body

    def __init__(
        self,
        graph_api_base: str = DEFAULT_GRAPH_API_BASE,
        rate_per_account: str | None = "80/second",
        timeout: float = 15.0,
    ):
        self.graph_api_base = graph_api_base.rstrip("/")
        self.rate_per_account = rate_per_account
        self.timeout = timeout
        self._parts = SentParts()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def _client(self) -> httpx.AsyncClient:
        # One pool per event loop: a client is bound to the loop that opened its sockets.
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(timeout=self.timeout)
            self._clients[loop] = client
        return client

    def _base(self, settings: dict[str, Any]) -> str:
        return str(settings.get("graph_api_base") or self.graph_api_base).rstrip("/")

    async def send(
        self, credentials: dict[str, Any], settings: dict[str, Any], message: OutboundMessage
    ) -> SendResult:
        phone_number_id = credentials.get("phone_number_id")
        token = credentials.get("access_token")
        if not phone_number_id or not token:
            raise PermanentError("the channel has no phone_number_id or access_token")
        account = _Account(self._base(settings), str(phone_number_id), str(token))
        if message.files:
            return await self._send_files(account, message)
        return SendResult(provider_message_id=await self._post(account, build_payload(message)))

    async def _post(self, account: "_Account", payload: dict[str, Any]) -> str:
        """One POST /{phone-number-id}/messages; the new message's wamid."""
        body = await self._call(
            account, "messages", json=payload, headers={"Authorization": account.auth}
        )
        try:
            return str(body["messages"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise TemporaryError("WhatsApp answered without a message id") from exc

    async def _call(self, account: "_Account", path: str, **request: Any) -> Any:
        url = f"{account.base}/{account.phone_number_id}/{path}"
        try:
            r = await self._client().post(url, **request)
        except httpx.TimeoutException as exc:
            raise TemporaryError(f"WhatsApp timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TemporaryError(f"WhatsApp unreachable: {type(exc).__name__}") from exc
        body = _json(r)
        if r.status_code >= 400:
            raise error_from_response(r.status_code, body)
        return body

    async def _upload(self, account: "_Account", file: OutboundFile) -> str:
        """POST /{phone-number-id}/media (multipart): Meta keeps the file for 30 days and
        answers its media id. Uploading, unlike sending a link, needs no public URL of ours."""
        body = await self._call(
            account,
            "media",
            data={"messaging_product": "whatsapp", "type": file.content_type},
            files={"file": (file.filename, file.content, file.content_type)},
            headers={"Authorization": account.auth},
        )
        media_id = body.get("id") if isinstance(body, dict) else None
        if not media_id:
            raise TemporaryError("WhatsApp answered the upload without a media id")
        return str(media_id)

    async def _send_files(self, account: "_Account", message: OutboundMessage) -> SendResult:
        """Each file is a message of its own (image or document, uploaded first); the text
        is the first file's caption when it fits, else a text message before the files.
        Parts already accepted are not sent again on a retry (SentParts)."""
        text = message.text or ""
        with_caption = len(text) <= CAPTION_LIMIT
        parts: list[Callable[[], Awaitable[dict[str, Any]]]] = []
        if text and not with_caption:
            parts.append(partial(_ready, _text_payload(message)))
        for i, file in enumerate(message.files):
            caption = text if with_caption and i == 0 and text else None
            parts.append(partial(self._file_payload, account, message, file, caption))
        key = (account.phone_number_id, message.message_id)
        sent = self._parts.take(key)
        try:
            for make in parts[len(sent) :]:
                sent.append(await self._post(account, await make()))
        except TemporaryError:
            self._parts.remember(key, sent)
            raise
        # Status callbacks name one wamid: the last part's stands for the message.
        return SendResult(provider_message_id=sent[-1])

    async def _file_payload(
        self, account: "_Account", message: OutboundMessage, file: OutboundFile, caption: str | None
    ) -> dict[str, Any]:
        mtype = "image" if _sendable_image(file) else "document"
        media: dict[str, Any] = {"id": await self._upload(account, file)}
        if caption:
            media["caption"] = caption
        if mtype == "document":
            media["filename"] = file.filename
        return _addressed(message) | {"type": mtype, mtype: media}

    async def fetch_media(
        self, credentials: dict[str, Any], settings: dict[str, Any], attachment: dict[str, Any]
    ) -> Media:
        media_id = attachment.get("media_id")
        token = credentials.get("access_token")
        if not media_id or not token:
            raise MediaUnavailable("this attachment has no WhatsApp media id")
        auth = {"Authorization": f"Bearer {token}"}
        client = self._client()
        try:
            r = await client.get(f"{self._base(settings)}/{media_id}", headers=auth)
            _raise_if_passing(r, "media lookup")
            info = _json(r)
            if r.status_code >= 400 or not isinstance(info, dict) or not info.get("url"):
                raise MediaUnavailable(f"WhatsApp has no media {media_id} (HTTP {r.status_code})")
            # The URL lives for about 5 minutes and needs the same bearer token.
            f = await client.get(str(info["url"]), headers=auth)
        except httpx.HTTPError as exc:  # not reached, or no answer: try again later
            raise TemporaryError(f"WhatsApp media unreachable: {type(exc).__name__}") from exc
        _raise_if_passing(f, "media download")
        if f.status_code >= 400:
            raise MediaUnavailable(f"WhatsApp media download failed (HTTP {f.status_code})")
        content_type = (
            info.get("mime_type")
            or attachment.get("mime_type")
            or f.headers.get("content-type", "application/octet-stream")
        )
        return Media(f.content, str(content_type), attachment.get("filename"))


def _raise_if_passing(r: httpx.Response, what: str) -> None:
    """A rate limit or a server error says nothing about the media: the caller may retry."""
    if r.status_code == 429 or r.status_code >= 500:
        retry_after = r.headers.get("retry-after")
        raise TemporaryError(
            f"WhatsApp {what} failed (HTTP {r.status_code})",
            float(retry_after) if retry_after and retry_after.isdigit() else None,
        )


def _json(r: httpx.Response) -> Any:
    try:
        return r.json()
    except ValueError:
        return None
