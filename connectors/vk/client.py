"""The VK API calls the channel needs, over one pooled httpx client per event loop.

Every call takes the community access token; nothing keeps it. The token (and the Long
Poll key) travel in the POST body, never in a URL, so no access log or httpx log line
shows them, and no error text we build contains them."""

import asyncio
import json
import weakref
from dataclasses import dataclass
from typing import Any

import httpx

from connectors.base import OutboundFile
from connectors.vk.errors import VkPermanentError, VkTemporaryError, error_from_api

API_VERSION = "5.199"  # message_new carries {"message", "client_info"} from 5.103 on
DEFAULT_API_BASE = "https://api.vk.com/method"
# The events a channel subscribes to (Callback API server or Bots Long Poll).
EVENTS = ("message_new", "message_edit", "message_allow", "message_deny")
# users.get fields the contact card uses.
USER_FIELDS = ("screen_name", "photo_200", "domain")


@dataclass(frozen=True, slots=True)
class VkUser:
    id: int
    first_name: str
    last_name: str
    screen_name: str | None = None
    photo_url: str | None = None
    deactivated: str | None = None  # "deleted" | "banned" when the page is gone

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True, slots=True)
class VkGroup:
    id: int
    name: str
    screen_name: str | None = None


@dataclass(frozen=True, slots=True)
class SentMessage:
    peer_id: int
    message_id: int
    conversation_message_id: int


@dataclass(frozen=True, slots=True)
class LongPollServer:
    server: str
    key: str
    ts: str


class VkApi:
    """api_base is VK's method endpoint (a local stand-in in tests); timeout is each call's
    (a_check gets its wait on top)."""

    def __init__(self, api_base: str = DEFAULT_API_BASE, timeout: float = 15.0) -> None:
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def http(self) -> httpx.AsyncClient:
        # One pool per event loop: a client is bound to the loop that opened its sockets.
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            client = httpx.AsyncClient(timeout=self.timeout)
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    async def call(self, token: str, method: str, params: dict[str, Any] | None = None) -> Any:
        """POST /method/{method}; VK's "response", or its "error" raised as ours."""
        if not token:
            raise VkPermanentError("the channel has no VK access_token")
        form = {k: _form_value(v) for k, v in (params or {}).items() if v is not None}
        form |= {"access_token": token, "v": API_VERSION}
        body = await self._post(f"{self.api_base}/{method}", f"VK {method}", data=form)
        if isinstance(body, dict) and "error" in body:
            raise error_from_api(body["error"])
        if not isinstance(body, dict) or "response" not in body:
            raise VkTemporaryError(f"VK {method} answered without a response")
        return body["response"]

    async def _post(self, url: str, what: str, seconds: float | None = None, **request: Any) -> Any:
        try:
            r = await self.http().post(url, timeout=seconds or self.timeout, **request)
        except httpx.TimeoutException as exc:
            raise VkTemporaryError(f"{what} timed out: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise VkTemporaryError(f"{what} unreachable: {type(exc).__name__}") from None
        if r.status_code == 429 or r.status_code >= 500:
            raise VkTemporaryError(f"{what} failed with HTTP {r.status_code}", 5.0)
        if r.status_code >= 400:
            raise VkPermanentError(f"{what} failed with HTTP {r.status_code}")
        try:
            return r.json()
        except ValueError:
            # A proxy in front of VK answering with an HTML page ends up here.
            raise VkTemporaryError(f"{what} answered with something that is not JSON") from None

    # --- the methods -------------------------------------------------------------------

    async def users_get(self, token: str, user_ids: list[int]) -> list[VkUser]:
        """Names for senders (VK's events carry only from_id). Up to 1000 ids a call."""
        if not user_ids:
            return []
        answer = await self.call(
            token,
            "users.get",
            {"user_ids": ",".join(str(i) for i in user_ids), "fields": ",".join(USER_FIELDS)},
        )
        return [_user(u) for u in _list(answer) if isinstance(u, dict) and "id" in u]

    async def get_group(self, token: str) -> VkGroup:
        """The community a community token belongs to (checks the token at channel setup)."""
        answer = await self.call(token, "groups.getById", {})
        groups = answer.get("groups") if isinstance(answer, dict) else answer
        first = _list(groups)[0] if _list(groups) else None
        if not isinstance(first, dict) or "id" not in first:
            raise VkPermanentError("this token belongs to no community (a user token?)")
        return VkGroup(int(first["id"]), str(first.get("name") or ""), first.get("screen_name"))

    async def get_confirmation_code(self, token: str, group_id: int) -> str:
        """The string the Callback API handshake must answer (it changes from time to time)."""
        answer = await self.call(
            token, "groups.getCallbackConfirmationCode", {"group_id": group_id}
        )
        code = answer.get("code") if isinstance(answer, dict) else None
        if not isinstance(code, str) or not code:
            raise VkTemporaryError("VK answered without a confirmation code")
        return code

    async def enable_long_poll(self, token: str, group_id: int) -> None:
        """Switch Bots Long Poll on at our API version, with our events (needs the token's
        manage right; otherwise set it by hand in the community's settings)."""
        flags = dict.fromkeys(EVENTS, 1)
        await self.call(
            token,
            "groups.setLongPollSettings",
            {"group_id": group_id, "enabled": 1, "api_version": API_VERSION, **flags},
        )

    async def add_callback_server(
        self, token: str, group_id: int, url: str, secret: str, title: str = "chatcentre"
    ) -> int:
        """Register our Callback URL with its secret, at our API version and with our events;
        VK then posts the confirmation event to it. The server's id (manage right needed)."""
        answer = await self.call(
            token,
            "groups.addCallbackServer",
            {"group_id": group_id, "url": url, "title": title[:14], "secret_key": secret},
        )
        server_id = answer.get("server_id") if isinstance(answer, dict) else None
        if not isinstance(server_id, int):
            raise VkTemporaryError("VK answered without a server_id")
        await self.call(
            token,
            "groups.setCallbackSettings",
            {
                "group_id": group_id,
                "server_id": server_id,
                "api_version": API_VERSION,
                **dict.fromkeys(EVENTS, 1),
            },
        )
        return server_id

    async def send_message(
        self,
        token: str,
        peer_id: int,
        random_id: int,
        text: str | None = None,
        attachments: list[str] | None = None,
        keyboard: dict[str, Any] | None = None,
    ) -> SentMessage:
        """messages.send with peer_ids (one peer): unlike peer_id, VK then answers the
        conversation_message_id too, which is what replies and edits refer to. random_id
        makes a repeated call a no-op at VK (same dialog, within the hour)."""
        answer = await self.call(
            token,
            "messages.send",
            {
                "peer_ids": peer_id,
                "random_id": random_id,
                "message": text or None,
                "attachment": ",".join(attachments) if attachments else None,
                "keyboard": keyboard,
            },
        )
        items = _list(answer)
        item = items[0] if items and isinstance(items[0], dict) else None
        if item is None:
            raise VkTemporaryError("VK messages.send answered without a message")
        if item.get("error"):
            raise error_from_api(item["error"])
        return SentMessage(
            peer_id=int(item.get("peer_id", peer_id)),
            message_id=int(item.get("message_id") or 0),
            conversation_message_id=int(item.get("conversation_message_id") or 0),
        )

    async def upload_photo(self, token: str, peer_id: int, file: OutboundFile) -> str:
        """photos.getMessagesUploadServer -> POST the file ("photo") -> saveMessagesPhoto;
        the attachment string messages.send takes."""
        server = await self.call(token, "photos.getMessagesUploadServer", {"peer_id": peer_id})
        uploaded = await self._upload(_upload_url(server), "photo", file)
        if not isinstance(uploaded, dict) or uploaded.get("photo") in (None, "", "[]"):
            raise VkPermanentError(f"VK did not take {file.filename} as a photo")
        saved = await self.call(
            token,
            "photos.saveMessagesPhoto",
            {
                "photo": uploaded["photo"],
                "server": uploaded.get("server"),
                "hash": uploaded.get("hash"),
            },
        )
        photo = _list(saved)[0] if _list(saved) else None
        if not isinstance(photo, dict) or "id" not in photo:
            raise VkTemporaryError("VK saved the photo without an id")
        return attachment_id("photo", photo)

    async def upload_document(
        self, token: str, peer_id: int, file: OutboundFile, doc_type: str = "doc"
    ) -> str:
        """docs.getMessagesUploadServer -> POST the file ("file") -> docs.save. doc_type
        "audio_message" makes an ogg/opus file a voice message."""
        server = await self.call(
            token, "docs.getMessagesUploadServer", {"type": doc_type, "peer_id": peer_id}
        )
        uploaded = await self._upload(_upload_url(server), "file", file)
        if not isinstance(uploaded, dict) or not uploaded.get("file"):
            reason = uploaded.get("error") if isinstance(uploaded, dict) else None
            raise VkPermanentError(f"VK did not take {file.filename}: {reason or 'no file'}")
        saved = await self.call(
            token, "docs.save", {"file": uploaded["file"], "title": file.filename}
        )
        saved = saved if isinstance(saved, dict) else {}
        kind = str(saved.get("type") or "doc")
        doc = saved.get(kind)
        if not isinstance(doc, dict) or "id" not in doc:
            raise VkTemporaryError("VK saved the document without an id")
        return attachment_id("doc", doc)

    async def _upload(self, url: str, field: str, file: OutboundFile) -> Any:
        files = {field: (file.filename, file.content, file.content_type)}
        return await self._post(url, "VK upload", seconds=max(self.timeout, 60.0), files=files)

    async def get_long_poll_server(self, token: str, group_id: int) -> LongPollServer:
        answer = await self.call(token, "groups.getLongPollServer", {"group_id": group_id})
        if not isinstance(answer, dict) or not answer.get("server") or not answer.get("key"):
            raise VkTemporaryError("VK answered groups.getLongPollServer without a server")
        return LongPollServer(str(answer["server"]), str(answer["key"]), str(answer.get("ts", "")))

    async def a_check(self, server: LongPollServer, wait: int) -> Any:
        """One Long Poll request: VK holds it up to `wait` seconds (at most 90); we give it
        our usual timeout on top."""
        form = {"act": "a_check", "key": server.key, "ts": server.ts, "wait": str(wait)}
        return await self._post(
            server.server, "VK Long Poll", seconds=wait + self.timeout, data=form
        )


def attachment_id(kind: str, obj: dict[str, Any]) -> str:
    """ "photo-123_456_accesskey": what messages.send's attachment parameter takes."""
    ident = f"{kind}{obj.get('owner_id')}_{obj['id']}"
    return f"{ident}_{obj['access_key']}" if obj.get("access_key") else ident


def _upload_url(server: Any) -> str:
    url = server.get("upload_url") if isinstance(server, dict) else None
    if not isinstance(url, str) or not url:
        raise VkTemporaryError("VK answered without an upload_url")
    return url


def _user(u: dict[str, Any]) -> VkUser:
    return VkUser(
        id=int(u["id"]),
        first_name=str(u.get("first_name") or ""),
        last_name=str(u.get("last_name") or ""),
        screen_name=u.get("screen_name") or u.get("domain") or None,
        photo_url=u.get("photo_200") or None,
        deactivated=u.get("deactivated") or None,
    )


def _form_value(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
