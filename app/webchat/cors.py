"""CORS for the widget API, per widget: each widget lists the sites allowed to embed it.

Global CORS middleware cannot do this (the allowed origins depend on the widget key in the
path), so this answers preflights and decorates responses for /widget/v1/{key}/..."""

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.channels import service as channels_service
from app.core.errors import DomainError
from app.webchat import service as webchat_service

_PREFIX = "/widget/v1/"


class WidgetCorsMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(_PREFIX):
            await self.app(scope, receive, send)
            return
        origin = Headers(scope=scope).get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = await self._allowed(scope, path, origin)
        if scope["method"] == "OPTIONS":
            headers = {"Vary": "Origin"}
            if allowed:
                headers.update(
                    {
                        "Access-Control-Allow-Origin": origin,
                        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                        "Access-Control-Allow-Headers": "Authorization, Content-Type",
                        "Access-Control-Max-Age": "600",
                    }
                )
            await Response(status_code=204 if allowed else 403, headers=headers)(
                scope, receive, send
            )
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and allowed:
                headers = MutableHeaders(scope=message)
                headers["Access-Control-Allow-Origin"] = origin
                headers.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _allowed(self, scope: Scope, path: str, origin: str) -> bool:
        key = path[len(_PREFIX) :].split("/", 1)[0]
        ctx = scope["app"].state.ctx
        try:
            async with ctx.sessions() as session:
                channel = await channels_service.get_by_public_key(session, key)
        except DomainError:
            return False
        return webchat_service.allowed_origin(channel, origin)
