"""Sends through the Graph API (POST /{phone-number-id}/messages) and downloads inbound
media (GET /{media-id} for a short-lived URL, then GET that URL), both with the channel's
bearer token. Credentials arrive per call; only the connection pool is shared."""

import asyncio
import weakref
from typing import Any

import httpx

from connectors.base import (
    Media,
    MediaUnavailable,
    OutboundMessage,
    PermanentError,
    SendResult,
    TemporaryError,
)
from connectors.whatsapp.errors import error_from_response
from connectors.whatsapp.parse import MEDIA_TYPES

DEFAULT_GRAPH_API_BASE = "https://graph.facebook.com/v23.0"
CAPTIONED = ("image", "video", "document")


def is_phone_id(recipient: str) -> bool:
    """wa_ids are digits; business-scoped user ids look like "US.13491208655302741918"."""
    return recipient.isdigit()


def build_payload(message: OutboundMessage) -> dict[str, Any]:
    """The Cloud API body for one outbound message: a template, one media by link, or text."""
    recipient = message.recipient_external_id
    payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    payload["to" if is_phone_id(recipient) else "recipient"] = recipient
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
    payload.update(type="text", text={"body": message.text, "preview_url": False})
    return payload


class WhatsAppConnector:
    channel_type = "whatsapp"
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
        url = f"{self._base(settings)}/{phone_number_id}/messages"
        try:
            r = await self._client().post(
                url, json=build_payload(message), headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TimeoutException as exc:
            raise TemporaryError(f"WhatsApp timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TemporaryError(f"WhatsApp unreachable: {type(exc).__name__}") from exc
        body = _json(r)
        if r.status_code >= 400:
            raise error_from_response(r.status_code, body)
        try:
            return SendResult(provider_message_id=str(body["messages"][0]["id"]))
        except (KeyError, IndexError, TypeError) as exc:
            raise TemporaryError("WhatsApp answered without a message id") from exc

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
