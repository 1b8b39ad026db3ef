"""A stand-in for Meta's Graph API on a loopback port: real HTTP, Meta's wire format.

It records every request, answers sends with a fresh wamid (or with queued error bodies from
tests/fixtures/whatsapp/graph_responses.json), takes media uploads (POST
/{phone-number-id}/media, multipart; kept in `uploads`), and serves media URL lookups and
downloads, all behind the bearer token."""

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

from tests.conftest import FIXTURES, free_port

GRAPH = json.loads((FIXTURES / "whatsapp" / "graph_responses.json").read_text())
TOKEN = "EAAG-test-access-token"
PHONE_NUMBER_ID = "106540352242922"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "verify-me-please"


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str | None
    body: Any


@dataclass(frozen=True)
class Uploaded:
    content: bytes
    content_type: str
    filename: str | None


@dataclass
class FakeGraph:
    base_url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    # Answers for the next sends, in order: (HTTP status, body) or ("sleep", seconds).
    send_answers: list[tuple[Any, Any]] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    # Answers for the next media lookups, in order: (HTTP status, body).
    media_answers: list[tuple[int, Any]] = field(default_factory=list)
    uploads: dict[str, Uploaded] = field(default_factory=dict)  # media id -> what we sent
    sent_count: int = 0

    @property
    def sends(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/messages")]

    async def wait_for_sends(self, n: int, timeout: float = 10.0) -> list[Recorded]:
        async with asyncio.timeout(timeout):
            while len(self.sends) < n:
                await asyncio.sleep(0.02)
        return self.sends

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    async def messages(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(
            Recorded("POST", request.url.path, request.headers.get("authorization"), body)
        )
        if not self._authorized(request):
            return JSONResponse(GRAPH["error_invalid_token"], status_code=401)
        if self.send_answers:
            status, answer = self.send_answers.pop(0)
            if status == "sleep":
                await asyncio.sleep(answer)
            else:
                return JSONResponse(answer, status_code=status)
        self.sent_count += 1
        ok = json.loads(json.dumps(GRAPH["send_ok"]))
        ok["messages"][0]["id"] = f"wamid.fake.{self.sent_count}"
        return JSONResponse(ok)

    async def media_info(self, request: Request) -> Response:
        media_id = request.path_params["media_id"]
        self.requests.append(
            Recorded("GET", request.url.path, request.headers.get("authorization"), None)
        )
        if not self._authorized(request):
            return JSONResponse(GRAPH["error_invalid_token"], status_code=401)
        if self.media_answers:
            code, answer = self.media_answers.pop(0)
            return JSONResponse(answer, status_code=code)
        if media_id not in self.media:
            error = {"error": {"message": "Unsupported get request", "code": 100}}
            return JSONResponse(error, status_code=400)
        info = dict(GRAPH["media_url"])
        info.update(id=media_id, url=f"{self.base_url}/download/{media_id}?hash=x")
        info["mime_type"] = self.media[media_id][1]
        return JSONResponse(info)

    async def download(self, request: Request) -> Response:
        media_id = request.path_params["media_id"]
        self.requests.append(
            Recorded("GET", request.url.path, request.headers.get("authorization"), None)
        )
        if not self._authorized(request):
            return Response(status_code=401)
        content, mime = self.media[media_id]
        return Response(content, media_type=mime)

    async def upload(self, request: Request) -> Response:
        """POST /{phone-number-id}/media, multipart: messaging_product, type, file."""
        async with request.form() as form:
            file = form.get("file")
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            content = await file.read() if isinstance(file, UploadFile) else None
            filename = file.filename if isinstance(file, UploadFile) else None
        self.requests.append(
            Recorded(
                "POST",
                request.url.path,
                request.headers.get("authorization"),
                {**fields, "filename": filename, "size": len(content or b"")},
            )
        )
        if not self._authorized(request):
            return JSONResponse(GRAPH["error_invalid_token"], status_code=401)
        if content is None or fields.get("messaging_product") != "whatsapp" or "type" not in fields:
            error = {"error": {"message": "(#100) Invalid parameter", "code": 100}}
            return JSONResponse(error, status_code=400)
        media_id = f"media-{len(self.uploads) + 1}"
        self.uploads[media_id] = Uploaded(content, fields["type"], filename)
        return JSONResponse({"id": media_id})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v23.0/{phone_id}/messages", self.messages, methods=["POST"]),
                Route("/v23.0/{phone_id}/media", self.upload, methods=["POST"]),
                Route("/download/{media_id}", self.download, methods=["GET"]),
                Route("/v23.0/{media_id}", self.media_info, methods=["GET"]),
            ]
        )


@contextlib.asynccontextmanager
async def serve_fake_graph() -> AsyncIterator[FakeGraph]:
    fake = FakeGraph()
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


def graph_api_base(fake: FakeGraph) -> str:
    return f"{fake.base_url}/v23.0"
