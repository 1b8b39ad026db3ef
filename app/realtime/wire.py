"""The fan-out's fast path: a frame's bytes built once, written to each socket's transport.

Server frames are not masked and compression is off (settings.ws_compression), so a frame
is the same bytes for every socket that gets the same events. Sending it through
Starlette's send_text, uvicorn's ASGI send and websockets' framing costs about ten times
the transport write itself, once per socket (README, Performance: "Fan-out for a shared
queue"). So the hub frames once and writes the bytes, when the socket can take them now.

This relies on uvicorn's sans-I/O protocol object (app.cli.WS_PROTOCOL; uvicorn pinned in
pyproject.toml): its `transport`, `writable` (cleared by pause_writing), `close_sent`,
`disconnected` and `conn` (websockets' ServerProtocol: `state`, `extensions`). Only that
class is accepted (by exact type): anything else, or a socket past any of these checks,
takes the normal send path. tests/realtime/test_direct_frames.py fails if the fast path
stops being taken with the configured protocol, or if its frames differ from uvicorn's."""

from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

Protocol = WebSocketsSansIOProtocol
_SCOPE_KEY = "chatcentre.ws_protocol"


class ProtocolMiddleware:
    """Outermost, where `send` is still uvicorn's own bound method (the middlewares inside
    wrap it): notes the socket's protocol object in the scope for protocol_of()."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            owner = getattr(send, "__self__", None)
            if type(owner) is WebSocketsSansIOProtocol:
                scope[_SCOPE_KEY] = owner
        await self.app(scope, receive, send)


def protocol_of(scope: Mapping[str, Any]) -> Protocol | None:
    found: Protocol | None = scope.get(_SCOPE_KEY)
    return found


def text_frame(text: str) -> bytes:
    """The bytes of one unmasked, uncompressed text frame (what uvicorn would write)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def can_take(protocol: Protocol) -> bool:
    """A frame may go to the transport now: the socket is open, has no extension that
    rewrites frames, and its transport is not paused by backpressure (a slow client's
    frames wait in its queue instead, and overflow closes it: hub.CLOSE_BACKLOG)."""
    return (
        protocol.writable.is_set()
        and not protocol.close_sent
        and not protocol.disconnected
        and protocol.conn.state is State.OPEN
        and not protocol.conn.extensions
        and not protocol.transport.is_closing()
    )
