"""A local stand-in for the Telegram Bot API: real HTTP on loopback, Telegram's envelope.

It speaks what aiogram sends (form data, nested values JSON-encoded, multipart for files)
and keeps what a test needs to look at: every call, the webhook, the pending updates with
getUpdates' offset semantics, and files for getFile + download. Errors are scripted per
method: `fail(method, envelope_or_status, times)`, or as an outage that lasts until cleared:
`fake.outage = Outage("5xx" | "timeout" | "429", ...)`, then `fake.outage = None`. Texts it
accepted (answered 200) are kept per chat, in order, in `accepted`; files uploaded with
sendPhoto/sendDocument (multipart) it accepted, with their bytes, in `uploads`."""

import asyncio
import itertools
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "telegram"
API_RESPONSES: dict[str, Any] = json.loads((FIXTURES / "api_responses.json").read_text())
TOKEN = "7012345678:AAHfakeTokenForTests_0123456789abcdef"
BOT = API_RESPONSES["getMe"]["result"]


def load_update(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


@dataclass
class Call:
    token: str
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    status: int = 0  # the HTTP status it was answered (0: not answered, e.g. timed out)
    answered_at: float | None = None


@dataclass(frozen=True)
class Upload:
    """A file that came with a sendPhoto/sendDocument call (multipart) and was accepted."""

    chat_id: int
    method: str
    filename: str
    content: bytes
    caption: str | None


@dataclass(frozen=True)
class Outage:
    """The Bot API failing on every call until cleared. kind: "5xx" answers 502 (Bad
    Gateway), "429" answers Too Many Requests with `retry_after`, "timeout" holds the
    request for `delay` seconds (longer than the client waits) and then answers 504.
    chat_ids: only calls for these chats fail (None: every call)."""

    kind: str
    retry_after: int = 1
    delay: float = 30.0
    chat_ids: frozenset[int] | None = None


@dataclass
class Failure:
    status: int
    body: Any  # dict envelope, or str for a non-JSON answer (a proxy's HTML page)
    disconnect: bool = False


class FakeBotApi:
    def __init__(self) -> None:
        self.tokens = {TOKEN: BOT}
        self.calls: list[Call] = []
        self.webhook: dict[str, dict[str, Any]] = {}
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.failures: dict[str, deque[Failure]] = defaultdict(deque)
        self.counts: dict[str, int] = defaultdict(int)
        self.nth_failures: dict[tuple[str, int], Failure] = {}
        self.pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.delivered: dict[int, int] = defaultdict(int)  # update_id -> times returned
        self.polls_in_flight = 0
        self.outage: Outage | None = None
        self.accepted: dict[int, list[str]] = defaultdict(list)  # chat id -> texts sent
        self.uploads: list[Upload] = []  # files accepted with sendPhoto/sendDocument
        self.max_polls_in_flight = 0
        self._new_update = asyncio.Event()
        self._message_ids = itertools.count(2000)
        self.url = ""
        self._runner: web.AppRunner | None = None

    # --- test controls -------------------------------------------------------------
    def fail(self, method: str, response: str | int | dict[str, Any], times: int = 1) -> None:
        """Make the next `times` calls of `method` fail: an api_responses.json key, an HTTP
        status (Telegram envelope), or a dict envelope."""
        if isinstance(response, str):
            body = API_RESPONSES[response]
            failure = Failure(body["error_code"], body)
        elif isinstance(response, int):
            failure = Failure(
                response, {"ok": False, "error_code": response, "description": "Bad Gateway"}
            )
        else:
            failure = Failure(response["error_code"], response)
        for _ in range(times):
            self.failures[method].append(failure)

    def fail_nth(self, method: str, nth: int, envelope: dict[str, Any]) -> None:
        """Fail the nth call of `method` from now on (1 = the next one)."""
        self.nth_failures[(method, self.counts[method] + nth)] = Failure(
            envelope["error_code"], envelope
        )

    def fail_raw(self, method: str, status: int, text: str, times: int = 1) -> None:
        for _ in range(times):
            self.failures[method].append(Failure(status, text))

    def disconnect(self, method: str, times: int = 1) -> None:
        for _ in range(times):
            self.failures[method].append(Failure(0, None, disconnect=True))

    def push_update(self, update: dict[str, Any], token: str = TOKEN) -> None:
        self.pending[token].append(update)
        self._new_update.set()

    def add_file(self, file_id: str, file_path: str, content: bytes) -> None:
        self.files[file_id] = (file_path, content)

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # --- server ----------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/file/bot{token}/{path:.+}", self._download)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        # A long poll whose client went away must not count as a delivery: cancel it.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
            return params
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                params[key] = {"upload": value.filename, "content": value.file.read()}
                continue
            text = str(value)
            try:  # aiogram JSON-encodes nested values and numbers stay strings in forms
                params[key] = json.loads(text) if text[:1] in "[{" else text
            except ValueError:
                params[key] = text
        return params

    async def _method(self, request: web.Request) -> web.StreamResponse:
        token, method = request.match_info["token"], request.match_info["method"]
        params = await self._params(request)
        call = Call(token, method, params)
        self.calls.append(call)
        try:
            response = await self._answer(call, request)
        except web.HTTPException as exc:
            call.status, call.answered_at = exc.status, time.monotonic()
            raise
        call.status, call.answered_at = response.status, time.monotonic()
        return response

    async def _outage(self, call: Call) -> web.StreamResponse | None:
        outage = self.outage
        if outage is None:
            return None
        chat = call.params.get("chat_id")
        if outage.chat_ids is not None and (chat is None or int(chat) not in outage.chat_ids):
            return None
        if outage.kind == "5xx":
            body = {"ok": False, "error_code": 502, "description": "Bad Gateway"}
            return web.json_response(body, status=502)
        if outage.kind == "429":
            body = {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {outage.retry_after}",
                "parameters": {"retry_after": outage.retry_after},
            }
            return web.json_response(body, status=429)
        assert outage.kind == "timeout", outage
        await asyncio.sleep(outage.delay)  # cancelled when the client gives up
        return web.json_response(
            {"ok": False, "error_code": 504, "description": "Gateway Timeout"}, status=504
        )

    async def _answer(self, call: Call, request: web.Request) -> web.StreamResponse:
        token, method, params = call.token, call.method, call.params
        if token not in self.tokens:
            return web.json_response(API_RESPONSES["error_401"], status=401)
        down = await self._outage(call)
        if down is not None:
            return down
        self.counts[method] += 1
        failure = self.nth_failures.pop((method, self.counts[method]), None)
        if failure is None and self.failures[method]:
            failure = self.failures[method].popleft()
        if failure is not None:
            if failure.disconnect:
                assert request.transport is not None
                request.transport.close()
                return web.Response(status=500)
            if isinstance(failure.body, str):
                return web.Response(status=failure.status, text=failure.body)
            return web.json_response(failure.body, status=failure.status)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        result = await handler(token, params)
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        self.calls.append(Call(request.match_info["token"], "download", {"path": path}))
        for file_path, content in self.files.values():
            if file_path == path and request.match_info["token"] in self.tokens:
                return web.Response(body=content)
        return web.Response(status=404, text="Not Found")

    # --- methods -----------------------------------------------------------------------
    async def _m_getMe(self, token: str, params: dict[str, Any]) -> Any:
        return self.tokens[token]

    async def _m_setWebhook(self, token: str, params: dict[str, Any]) -> Any:
        self.webhook[token] = params
        return True

    async def _m_deleteWebhook(self, token: str, params: dict[str, Any]) -> Any:
        self.webhook.pop(token, None)
        return True

    async def _m_answerCallbackQuery(self, token: str, params: dict[str, Any]) -> Any:
        return True

    async def _m_getUpdates(self, token: str, params: dict[str, Any]) -> Any:
        if token in self.webhook:
            raise web.HTTPConflict(
                text=json.dumps(API_RESPONSES["error_409_conflict"]),
                content_type="application/json",
            )
        self.polls_in_flight += 1
        self.max_polls_in_flight = max(self.max_polls_in_flight, self.polls_in_flight)
        try:
            offset = int(params.get("offset", 0) or 0)
            limit = int(params.get("limit", 100) or 100)
            deadline = time.monotonic() + float(params.get("timeout", 0) or 0)
            # An offset confirms every update below it: Telegram forgets them.
            self.pending[token] = [u for u in self.pending[token] if u["update_id"] >= offset]
            while not self.pending[token] and time.monotonic() < deadline:
                self._new_update.clear()
                try:
                    await asyncio.wait_for(
                        self._new_update.wait(), max(0.01, deadline - time.monotonic())
                    )
                except TimeoutError:
                    break
            batch = sorted(self.pending[token], key=lambda u: u["update_id"])[:limit]
            for u in batch:
                self.delivered[u["update_id"]] += 1
            return batch
        finally:
            self.polls_in_flight -= 1

    def _message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        message = {
            "message_id": next(self._message_ids),
            "from": {"id": BOT["id"], "is_bot": True, "first_name": BOT["first_name"]},
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "date": int(time.time()),
            **content,
        }
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        return message

    async def _m_sendChatAction(self, token: str, params: dict[str, Any]) -> Any:
        return True

    async def _m_sendMessage(self, token: str, params: dict[str, Any]) -> Any:
        self.accepted[int(params["chat_id"])].append(params["text"])
        return self._message(params, text=params["text"])

    def _received(self, method: str, params: dict[str, Any], field_name: str) -> None:
        """Files uploaded with the call (multipart) are kept, bytes and all. Like the Bot
        API, the field may name another part: "attach://<part name>"."""
        value = params.get(field_name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
            if not isinstance(value, dict):
                raise web.HTTPBadRequest(
                    text=json.dumps(
                        {"ok": False, "error_code": 400, "description": "Bad Request: no file"}
                    ),
                    content_type="application/json",
                )
        if isinstance(value, dict) and "content" in value:
            self.uploads.append(
                Upload(
                    int(params["chat_id"]),
                    method,
                    value["upload"],
                    value["content"],
                    params.get("caption"),
                )
            )

    async def _m_sendPhoto(self, token: str, params: dict[str, Any]) -> Any:
        self._received("sendPhoto", params, "photo")
        size = {"file_id": "sent-photo", "file_unique_id": "u", "width": 1, "height": 1}
        return self._message(params, photo=[size], caption=params.get("caption"))

    async def _m_sendDocument(self, token: str, params: dict[str, Any]) -> Any:
        self._received("sendDocument", params, "document")
        doc = {"file_id": "sent-doc", "file_unique_id": "u"}
        return self._message(params, document=doc, caption=params.get("caption"))

    async def _m_getFile(self, token: str, params: dict[str, Any]) -> Any:
        file_id = params["file_id"]
        if file_id not in self.files:
            raise web.HTTPBadRequest(
                text=json.dumps(
                    {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}
                ),
                content_type="application/json",
            )
        path, content = self.files[file_id]
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(content),
            "file_path": path,
        }
