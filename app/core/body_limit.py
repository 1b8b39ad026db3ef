"""Rejects request bodies over the configured size with 413, before anything reads them.
Paths under a prefix in `wider` have a limit of their own (Meta's webhooks post up to 3 MB);
a key with `*` is a pattern instead (`/widget/v1/*/attachments`: the widget key varies)."""

from fnmatch import fnmatchcase

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import error_body


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, wider: dict[str, int] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.wider = wider or {}

    def _limit(self, path: str) -> int:
        return next(
            (
                n
                for p, n in self.wider.items()
                if (fnmatchcase(path, p) if "*" in p else path.startswith(p))
            ),
            self.max_bytes,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        declared: int | None = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit or declared < 0:
                    await self._reject(scope, receive, send, limit)
                    return
        if declared is not None:  # the server never delivers more than it declared
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read the body here, up to the limit, and replay it.
        # Raising from inside receive() instead would reach the route's body parser, which
        # turns any error into a 400.
        chunks: list[bytes] = []
        seen = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await self._reject(scope, receive, send, limit)
                return
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = JSONResponse(
            error_body("payload_too_large", f"The body is over {limit} bytes"),
            status_code=413,
        )
        await response(scope, receive, send)
