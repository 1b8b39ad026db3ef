"""A stand-in for VK on a loopback port: real HTTP, VK's wire format.

- POST /method/{name} (form: access_token, v, the method's parameters) answers
  {"response": ...} or {"error": {"error_code", "error_msg"}} like api.vk.com: users.get,
  groups.getById, groups.getCallbackConfirmationCode, groups.getLongPollServer,
  messages.send (peer_ids; a repeated random_id in the same dialog sends nothing again, as
  VK documents for the last hour, and answers the first message),
  photos.getMessagesUploadServer and photos.saveMessagesPhoto,
  docs.getMessagesUploadServer and docs.save.
- POST /upload/photo ("photo") and /upload/doc ("file"), multipart: the upload servers.
- POST /lp (form: act=a_check, key, ts, wait): the Long Poll server, answering queued
  answers, or {"failed": 2} for a stale key; otherwise the events pushed (push_event)
  after the given ts, numbered on from lp_ts, holding an empty answer up to lp_hold
  seconds (VK holds it up to `wait`) for one to come.
- GET /files/{name}: media for downloads.
Tests queue error bodies per method (`answers`) and read what was sent (`calls`)."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.vk.client import API_VERSION
from tests.conftest import FIXTURES, free_port

VK = json.loads((FIXTURES / "vk" / "api_responses.json").read_text())
TOKEN = "vk1.a.community-token-for-tests"
GROUP_ID = 229876543
USER_ID = 743784474
SECRET = "Kx9v2mQe7LpR4t"
CONFIRMATION = "8c2f1a7e"


def fixture(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / "vk" / f"{name}.json").read_text())
    return body


@dataclass
class Call:
    method: str
    params: dict[str, str]


@dataclass
class Upload:
    field: str
    filename: str | None
    content_type: str | None
    content: bytes


@dataclass
class FakeVk:
    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    # Queued answers per method, in order: a body (dict), "pass" (answer as usual), or
    # ("sleep", seconds) (answer as usual, late).
    answers: dict[str, list[Any]] = field(default_factory=dict)
    uploads: list[Upload] = field(default_factory=list)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    file_answers: list[int] = field(default_factory=list)  # statuses for the next GETs
    delivered: list[dict[str, Any]] = field(default_factory=list)  # messages really sent
    lp_key: str = "lp-key-1"
    lp_ts: str = "1864"
    lp_answers: list[Any] = field(default_factory=list)
    lp_requests: list[dict[str, str]] = field(default_factory=list)
    lp_events: list[dict[str, Any]] = field(default_factory=list)  # event n has ts lp_ts + n
    lp_hold: float = 0.0
    lp_in_flight: int = 0
    lp_max_in_flight: int = 0  # a_check requests answered at once, at most
    _lp_pushed: asyncio.Event = field(default_factory=asyncio.Event)
    _by_random_id: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/method"

    def push_event(self, event: dict[str, Any]) -> None:
        """An event for Long Poll: what a_check answers from now on."""
        self.lp_events.append(event)
        self._lp_pushed.set()

    def current_ts(self) -> str:
        return str(int(self.lp_ts) + len(self.lp_events))

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def method(self, request: Request) -> Response:
        name = request.path_params["name"]
        async with request.form() as form:
            params = {k: v for k, v in form.items() if isinstance(v, str)}
        if request.query_params.get("access_token"):
            params["token_in_url"] = "yes"  # the connector must never do this
        self.calls.append(Call(name, params))
        if params.get("access_token") != TOKEN:
            return JSONResponse(VK["error_5"])
        if params.get("v") != API_VERSION:
            return JSONResponse({"error": {"error_code": 8, "error_msg": "Invalid request: v"}})
        queued = self.answers.get(name)
        if queued:
            answer = queued.pop(0)
            if isinstance(answer, tuple) and answer[0] == "sleep":
                await asyncio.sleep(answer[1])  # then answers as usual: VK did the work
            elif answer != "pass":
                return JSONResponse(answer)
        handler = getattr(self, "m_" + name.replace(".", "_"), None)
        if handler is None:
            error = {"error_code": 3, "error_msg": "Unknown method passed"}
            return JSONResponse({"error": error})
        return JSONResponse(handler(params))

    def m_users_get(self, params: dict[str, str]) -> Any:
        wanted = [int(i) for i in params["user_ids"].split(",")]
        known = {u["id"]: u for u in VK["users_get"]["response"]}
        # Anyone else exists too, with a made-up name (the bench's senders).
        made = {"first_name": "User", "last_name": ""}
        return {
            "response": [known.get(i) or {"id": i, **made, "last_name": str(i)} for i in wanted]
        }

    def m_groups_getById(self, params: dict[str, str]) -> Any:
        return VK["groups_get_by_id"]

    def m_groups_getCallbackConfirmationCode(self, params: dict[str, str]) -> Any:
        return {"response": {"code": CONFIRMATION}}

    def m_groups_getLongPollServer(self, params: dict[str, str]) -> Any:
        assert params["group_id"] == str(GROUP_ID)
        server = f"{self.base_url}/lp"
        return {"response": {"key": self.lp_key, "server": server, "ts": self.current_ts()}}

    def m_groups_setLongPollSettings(self, params: dict[str, str]) -> Any:
        return {"response": 1}

    def m_groups_addCallbackServer(self, params: dict[str, str]) -> Any:
        return {"response": {"server_id": 3}}

    def m_groups_setCallbackSettings(self, params: dict[str, str]) -> Any:
        return {"response": 1}

    def m_messages_send(self, params: dict[str, str]) -> Any:
        peer = params["peer_ids"]
        dedup = (peer, params["random_id"])
        if params["random_id"] != "0" and dedup in self._by_random_id:
            return {"response": [self._by_random_id[dedup]]}
        self.delivered.append(params)
        n = len(self.delivered)
        item = {"peer_id": int(peer), "message_id": 2000 + n, "conversation_message_id": 100 + n}
        self._by_random_id[dedup] = item
        return {"response": [item]}

    def m_photos_getMessagesUploadServer(self, params: dict[str, str]) -> Any:
        answer = json.loads(json.dumps(VK["photo_upload_server"]))
        answer["response"]["upload_url"] = f"{self.base_url}/upload/photo?peer={params['peer_id']}"
        return answer

    def m_photos_saveMessagesPhoto(self, params: dict[str, str]) -> Any:
        saved = json.loads(json.dumps(VK["photo_saved"]))
        saved["response"][0]["id"] = 457239100 + len(self.uploads)
        assert params["hash"] == VK["photo_uploaded"]["hash"]
        return saved

    def m_docs_getMessagesUploadServer(self, params: dict[str, str]) -> Any:
        assert params["type"] in ("doc", "audio_message")
        return {"response": {"upload_url": f"{self.base_url}/upload/doc"}}

    def m_docs_save(self, params: dict[str, str]) -> Any:
        saved = json.loads(json.dumps(VK["doc_saved"]))
        saved["response"]["doc"]["id"] = 691240000 + len(self.uploads)
        saved["response"]["doc"]["title"] = params.get("title")
        return saved

    async def upload(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        wanted = "photo" if kind == "photo" else "file"
        async with request.form() as form:
            file = form.get(wanted)
            if not isinstance(file, UploadFile):
                return JSONResponse({"error": f"no {wanted} field"})
            content = await file.read()
            self.uploads.append(Upload(wanted, file.filename, file.content_type, content))
        return JSONResponse(VK["photo_uploaded" if kind == "photo" else "doc_uploaded"])

    async def long_poll(self, request: Request) -> Response:
        async with request.form() as form:
            params = {k: v for k, v in form.items() if isinstance(v, str)}
        self.lp_requests.append(params)
        if params.get("act") != "a_check":
            return JSONResponse({"failed": 4, "min_version": 0, "max_version": 3})
        if params.get("key") != self.lp_key:
            return JSONResponse(VK["lp_failed_2"])
        self.lp_in_flight += 1
        self.lp_max_in_flight = max(self.lp_max_in_flight, self.lp_in_flight)
        try:
            return JSONResponse(await self._a_check(params))
        finally:
            self.lp_in_flight -= 1

    async def _a_check(self, params: dict[str, str]) -> Any:
        if self.lp_answers:
            answer = self.lp_answers.pop(0)
            if isinstance(answer, tuple) and answer[0] == "sleep":
                await asyncio.sleep(answer[1])
                return {"ts": params["ts"], "updates": []}
            return answer
        ts = params.get("ts", "")
        seen = int(ts) - int(self.lp_ts) if ts.lstrip("-").isdigit() else 0
        if not self.lp_events[max(0, seen) :] and self.lp_hold:
            self._lp_pushed.clear()
            wait = min(self.lp_hold, float(params.get("wait") or 0) or self.lp_hold)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lp_pushed.wait(), wait)
        pending = self.lp_events[max(0, seen) :]
        if pending:
            return {"ts": self.current_ts(), "updates": pending}
        return {"ts": ts, "updates": []}

    async def file(self, request: Request) -> Response:
        if self.file_answers:
            return Response(status_code=self.file_answers.pop(0))
        name = request.path_params["name"]
        if name == "moved":
            return Response(status_code=302, headers={"location": "/files/photo.jpg"})
        if name not in self.files:
            return Response(status_code=404)
        content, mime = self.files[name]
        return Response(content, media_type=mime)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/method/{name}", self.method, methods=["POST"]),
                Route("/upload/{kind}", self.upload, methods=["POST"]),
                Route("/lp", self.long_poll, methods=["POST"]),
                Route("/files/{name}", self.file, methods=["GET"]),
            ]
        )


@contextlib.asynccontextmanager
async def serve_fake_vk() -> AsyncIterator[FakeVk]:
    fake = FakeVk()
    port = free_port()
    fake.base_url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
        if task.done():
            task.result()
    try:
        yield fake
    finally:
        server.should_exit = True
        await task
