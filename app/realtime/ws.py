"""WebSocket sessions: subscribe, catch up, then stream live. The operator's console socket
is here; the web chat visitor's is the plugin's (app/webchat/ws.py), on the same hub, pump
and catch-up rule.

Catch-up: a client passes after=<last message id it has>; we register with the hub first
and replay from the database second, so nothing falls in between (a message may arrive
twice; clients de-duplicate by id). Then {"type": "ready"}."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import WebSocket, WebSocketDisconnect
from limits import parse as parse_limit
from sqlalchemy import select

from app.core.context import AppContext
from app.inbox import queries as inbox_queries
from app.inbox.models import Conversation, Message
from app.inbox.visibility import visible_to
from app.operators.service import Principal
from app.realtime.hub import Connection, Hub, encode
from app.realtime.typing import TYPING_EVERY, Throttle, operator_typing

log = logging.getLogger(__name__)

REPLAY_LIMIT = 500


def hub_of(websocket: WebSocket) -> Hub:
    hub: Hub = websocket.app.state.hub
    return hub


CLOSE_TOO_BIG = 1009  # a frame over ws_max_message_bytes
CLOSE_POLICY = 1008  # more frames than ws_rate_limit allows


FrameHandler = Callable[[dict[str, object]], Coroutine[Any, Any, None]]
_signals: set[asyncio.Task[None]] = set()  # running frame handlers (kept referenced)


async def pump(
    websocket: WebSocket, conn: Connection, hub: Hub, on_frame: FrameHandler | None = None
) -> None:
    """Keep reading (pings, closes) until the client leaves. Clients send pings, and JSON
    signals such as {"type": "typing"} that `on_frame` handles (in a task of its own, so a
    slow one never holds up the socket; a frame that is not a JSON object is ignored). A
    frame over the size limit, or frames faster than the rate limit, close the socket with
    a code and a reason that say which."""
    settings = websocket.app.state.ctx.settings
    max_bytes: int = settings.ws_max_message_bytes
    rate = parse_limit(settings.ws_rate_limit)
    window, allowed = float(rate.get_expiry()), rate.amount
    started, seen = time.monotonic(), 0
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("text") or message.get("bytes") or ""
            size = len(data.encode()) if isinstance(data, str) else len(data)
            if size > max_bytes:
                await _close(conn, CLOSE_TOO_BIG, f"message_too_big: over {max_bytes} bytes")
                break
            now = time.monotonic()
            if now - started >= window:
                started, seen = now, 0
            seen += 1
            if seen > allowed:
                await _close(conn, CLOSE_POLICY, f"rate_limited: over {settings.ws_rate_limit}")
                break
            if data == "ping":
                conn.push('{"type":"pong"}')
            elif on_frame is not None:
                _handle(on_frame, data)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await hub.remove(conn)


def _handle(on_frame: FrameHandler, data: str | bytes) -> None:
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        return
    if isinstance(frame, dict):
        task = asyncio.create_task(on_frame(frame))
        _signals.add(task)
        task.add_done_callback(_signals.discard)


async def _close(conn: Connection, code: int, reason: str) -> None:
    if conn.writer is not None:
        conn.writer.cancel()
    with contextlib.suppress(Exception):
        await conn.ws.close(code=code, reason=reason)


async def serve_operator(
    websocket: WebSocket, ctx: AppContext, principal: Principal, after: int | None
) -> None:
    await websocket.accept()
    hub = hub_of(websocket)
    conn = Connection(
        ws=websocket,
        kind="operator",
        operator_id=principal.operator_id,
        sees_everything=principal.sees_everything,
        team_ids=principal.team_ids,
    )
    await hub.add(conn)
    assert principal.operator_id is not None
    await hub.on_console_open(principal.operator_id)
    if after is not None:
        async with ctx.sessions() as session:
            q = (
                select(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.id > after, *visible_to(principal))
                .order_by(Message.id)
                .limit(REPLAY_LIMIT)
            )
            rows = list((await session.scalars(q)).all())
        for m in rows:
            conn.push(
                encode(
                    {
                        "type": "message.created",
                        "replay": True,
                        "data": inbox_queries.to_message_read(m).model_dump(mode="json"),
                    }
                )
            )
        more = len(rows) == REPLAY_LIMIT
        conn.push(encode({"type": "ready", "more": more}))
    else:
        conn.push('{"type":"ready","more":false}')
    throttle = Throttle(TYPING_EVERY)

    async def on_frame(frame: dict[str, object]) -> None:
        conversation_id = frame.get("conversation_id")
        if frame.get("type") != "typing" or type(conversation_id) is not int:
            return
        if throttle.allow(conversation_id):
            try:
                await operator_typing(ctx, principal, conversation_id)
            except Exception:
                log.exception("a typing signal failed")

    try:
        await pump(websocket, conn, hub, on_frame)
    finally:
        await hub.on_console_close(principal.operator_id)
