"""WebSocket sessions for operators and visitors: subscribe, catch up, then stream live.

Catch-up: a client passes after=<last message id it has>; we register with the hub first
and replay from the database second, so nothing falls in between (a message may arrive
twice; clients de-duplicate by id). Then {"type": "ready"}."""

import contextlib

import orjson
from fastapi import WebSocket, WebSocketDisconnect
from sqlalchemy import select

from app.core.context import AppContext
from app.inbox import service as inbox_service
from app.inbox.models import Conversation, Message
from app.operators.service import Principal
from app.realtime.hub import Connection, Hub
from app.routing import presence as presence_service
from app.webchat import service as webchat_service
from app.webchat.schemas import to_widget_message
from app.webchat.service import Visitor

REPLAY_LIMIT = 500


def _hub(websocket: WebSocket) -> Hub:
    hub: Hub = websocket.app.state.hub
    return hub


async def _pump(websocket: WebSocket, conn: Connection, hub: Hub) -> None:
    """Keep reading (pings, closes) until the client leaves."""
    try:
        while True:
            text = await websocket.receive_text()
            if text == "ping":
                conn.push(b'{"type":"pong"}')
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        await hub.remove(conn)


async def serve_operator(
    websocket: WebSocket, ctx: AppContext, principal: Principal, after: int | None
) -> None:
    await websocket.accept()
    hub = _hub(websocket)
    conn = Connection(
        ws=websocket,
        kind="operator",
        operator_id=principal.operator_id,
        sees_everything=principal.sees_everything,
    )
    await hub.add(conn)
    assert principal.operator_id is not None
    await presence_service.console_opened(ctx.sessions, principal.operator_id)
    if after is not None:
        async with ctx.sessions() as session:
            q = (
                select(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.id > after, *inbox_service.visible_to(principal))
                .order_by(Message.id)
                .limit(REPLAY_LIMIT)
            )
            rows = list((await session.scalars(q)).all())
        for m in rows:
            conn.push(
                orjson.dumps(
                    {
                        "type": "message.created",
                        "replay": True,
                        "data": inbox_service.to_message_read(m).model_dump(mode="json"),
                    }
                )
            )
        more = len(rows) == REPLAY_LIMIT
        conn.push(orjson.dumps({"type": "ready", "more": more}))
    else:
        conn.push(b'{"type":"ready","more":false}')
    try:
        await _pump(websocket, conn, hub)
    finally:
        await presence_service.console_closed(ctx.sessions, principal.operator_id)


async def serve_visitor(
    websocket: WebSocket, ctx: AppContext, visitor: Visitor, after: int | None
) -> None:
    await websocket.accept()
    hub = _hub(websocket)
    conn = Connection(
        ws=websocket, kind="visitor", contact_id=visitor.contact_id, channel_id=visitor.channel_id
    )
    await hub.add(conn)
    if after is not None:
        async with ctx.sessions() as session:
            ids = await webchat_service.visitor_conversation_ids(session, visitor)
            rows: list[Message] = []
            if ids:
                rows, _, _ = await inbox_service.list_messages(
                    session, ids, after=after, limit=REPLAY_LIMIT, visitor_view=True
                )
        for m in rows:
            conn.push(
                orjson.dumps(
                    {
                        "type": "message.created",
                        "replay": True,
                        "data": to_widget_message(m).model_dump(mode="json"),
                    }
                )
            )
    conn.push(b'{"type":"ready"}')
    with contextlib.suppress(Exception):
        await _pump(websocket, conn, hub)
