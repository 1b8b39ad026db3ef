"""A real HTTP receiver on 127.0.0.1 (aiohttp) that records what webhooks bring it.

Paths: /ok answers 200; /fail/N answers 500 to the first N attempts of each webhook-id;
/slow answers the first attempt of each webhook-id after 2 s (past the test timeout);
/redirect answers 302 to a private address; /down always 500."""

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.conftest import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    base_url: str
    received: list[Received] = field(default_factory=list)
    attempts: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)

    def delivered(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]


async def _handle(receiver: Receiver, request: web.Request) -> web.StreamResponse:
    body = await request.read()
    key = (request.path, request.headers.get("webhook-id", ""))
    receiver.attempts[key] += 1
    n = receiver.attempts[key]
    path = request.path
    if path.startswith("/fail/") and n <= int(path.rsplit("/", 1)[1]):
        return web.Response(status=500)
    if path == "/down":
        return web.Response(status=503)
    if path == "/slow" and n == 1:
        await asyncio.sleep(2)  # the sender has given up by then: not a delivery
        return web.Response(status=204)
    if path == "/redirect":
        raise web.HTTPFound("http://10.255.255.1/hook")
    receiver.received.append(Received(path, dict(request.headers), body))
    return web.Response(status=204)


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    port = free_port()
    rec = Receiver(f"http://127.0.0.1:{port}")

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _handle(rec, request)

    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield rec
    finally:
        await runner.cleanup()


async def eventually(check: Any, timeout: float = 15.0) -> None:
    """Wait until check() (or the awaitable it returns) is truthy (polling), else fail."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in {timeout}s: {value!r}")
        await asyncio.sleep(0.05)
