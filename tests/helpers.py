"""Small API helpers shared by tests (they call the public API, like any client)."""

import asyncio
import collections
import contextlib
import json
import weakref
from collections.abc import Iterator
from typing import Any

import httpx
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_webchat(
    client: httpx.AsyncClient, admin_token: str, **settings: Any
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/channels",
        json={"type": "webchat", "name": "Site", "settings": settings},
        headers=auth(admin_token),
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def visitor_session(
    client: httpx.AsyncClient, widget_key: str, **body: Any
) -> dict[str, Any]:
    r = await client.post(f"/widget/v1/{widget_key}/sessions", json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def visitor_post(
    client: httpx.AsyncClient, widget_key: str, token: str, text: str, client_id: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"text": text}
    if client_id is not None:
        body["client_message_id"] = client_id
    return await client.post(f"/widget/v1/{widget_key}/messages", json=body, headers=auth(token))


# Events already received in a batch frame and not yet handed out, per socket.
_pending_events: weakref.WeakKeyDictionary[Any, collections.deque[dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)


async def recv_event(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    """The next event on a chatcentre WebSocket. A busy server puts several events in one
    {"type": "batch", "events": [...]} frame; they come out one by one, in order."""
    pending = _pending_events.setdefault(ws, collections.deque())
    if not pending:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        pending.extend(frame["events"] if frame.get("type") == "batch" else [frame])
    return pending.popleft()


@contextlib.contextmanager
def statements_sent(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements the engine sends inside the block, whitespace collapsed (to prove
    what a request costs in round trips, not how long it takes)."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(sync, "before_cursor_execute", seen)


async def routings_settled(engine: AsyncEngine, conversations: int, timeout: float = 30) -> None:
    """Wait until each of the first `conversations` conversations has been routed: assigned or
    queued (a stored conversation.assigned or conversation.queued). Served processes route a
    new lead after the answer (app/core/after_answer.py), so a client's 201 does not mean it."""
    deadline = asyncio.get_running_loop().time() + timeout
    routed = -1
    while asyncio.get_running_loop().time() < deadline:
        async with engine.connect() as conn:
            routed = int(
                await conn.scalar(
                    text(
                        "SELECT count(DISTINCT aggregate_id) FROM domain_events "
                        "WHERE name IN ('conversation.assigned', 'conversation.queued')"
                    )
                )
                or 0
            )
        if routed >= conversations:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{routed} of {conversations} conversations routed in {timeout} s")
