"""The visitor's WebSocket: the widget's live view of its own conversations, on the realtime
hub (app/realtime/ws.py has the operator's, and the shared pump and catch-up rule)."""

import contextlib

from fastapi import WebSocket

from app.attachments.service import visitor_links
from app.core.context import AppContext
from app.inbox import queries as inbox_queries
from app.inbox.models import Message
from app.inbox.schemas import to_widget_message
from app.realtime.hub import Connection, encode
from app.realtime.typing import TYPING_EVERY, Throttle, visitor_typing
from app.realtime.ws import REPLAY_LIMIT, hub_of, pump
from app.webchat import service as webchat_service
from app.webchat.service import Visitor

# The widget's frames: {"type": "typing"} while the visitor types, {"type": "read",
# "message_id": N} once it has shown our messages up to N (read receipts).


async def serve_visitor(
    websocket: WebSocket, ctx: AppContext, visitor: Visitor, after: int | None
) -> None:
    await websocket.accept()
    hub = hub_of(websocket)
    conn = Connection(
        ws=websocket, kind="visitor", contact_id=visitor.contact_id, channel_id=visitor.channel_id
    )
    await hub.add(conn)
    if after is not None:
        async with ctx.sessions() as session:
            ids = await webchat_service.visitor_conversation_ids(session, visitor)
            rows: list[Message] = []
            if ids:
                rows, _, _ = await inbox_queries.list_messages(
                    session, ids, after=after, limit=REPLAY_LIMIT, visitor_view=True
                )
        for m in rows:
            conn.push(
                encode(
                    {
                        "type": "message.created",
                        "replay": True,
                        "data": to_widget_message(m, visitor_links(ctx)).model_dump(mode="json"),
                    }
                )
            )
    conn.push('{"type":"ready"}')
    throttle = Throttle(TYPING_EVERY)

    async def on_frame(frame: dict[str, object]) -> None:
        up_to = frame.get("message_id")
        if frame.get("type") == "read" and type(up_to) is int and throttle.allow(("read", up_to)):
            async with ctx.sessions() as session:
                await webchat_service.mark_read_by_visitor(session, visitor, up_to)
                await session.commit()
            return
        if frame.get("type") != "typing" or not throttle.allow("typing"):
            return
        async with ctx.sessions() as session:
            conversation_id = await webchat_service.active_conversation_id(session, visitor)
        if conversation_id is not None:  # typing before the first message: nobody to tell
            visitor_typing(ctx, conversation_id)

    with contextlib.suppress(Exception):
        await pump(websocket, conn, hub, on_frame)
