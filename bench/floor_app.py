"""The HTTP + SQL floor for bench.ingest: the least any HTTP ingest can cost here.

A bare ASGI app (no framework, no auth, no Python events) served by the same uvicorn as
`chatcentre serve`, whose one route parses a widget-shaped JSON body and runs the ingest's
own statement (a call of chatcentre_ingest_message) by raw asyncpg, one transaction per
message. The load generator reaches it exactly as it reaches the real endpoints, so
ingest / this floor is what our own code costs, with the load generator, the HTTP stack and
PostgreSQL's work per message counted on both sides.

    python -m uvicorn bench.floor_app:app --workers 2   (bench.ingest starts it itself)
Needs FLOOR_DATABASE_URL and FLOOR_CHANNEL_ID in the environment."""

import itertools
import os
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

from app.ingest.service import INGEST_MESSAGE

_compiled = INGEST_MESSAGE.compile(dialect=PGDialect_asyncpg())
SQL, NAMES = str(_compiled), list(_compiled.positiontup or [])
_pool: asyncpg.Pool | None = None
_counter = itertools.count()
_run = os.urandom(4).hex()


async def _start() -> None:
    global _pool
    dsn = os.environ["FLOOR_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    _pool = await asyncpg.create_pool(dsn, min_size=4, max_size=16)


def ingest_args(channel_id: int, sender: str, external_id: str, text: str) -> list[Any]:
    """SQL's arguments for a plain text message from `sender` (no rating, no team)."""
    params: dict[str, Any] = {
        "channel_id": channel_id,
        "team_id": None,
        "channel_type": "webchat",
        "sender_external_id": sender,
        "username": None,
        "name": "floor",
        "email": None,
        "phone": None,
        "source": None,
        "external_id": external_id,
        "kind": "text",
        "text": text,
        "attachments": "[]",
        "sent_at": None,
        "meta": "{}",
        "reply_to_external_id": None,
        "rating": None,
        "survey_button": False,
        "survey_window_hours": 72,
        "now": datetime.now(UTC),
        "inbound_at": None,  # the receipt time
        "conversation_id": None,  # the sender's own conversation
    }
    return [params[name] for name in NAMES]


async def _ingest(body: bytes) -> bytes:
    assert _pool is not None
    text = orjson.loads(body)["text"]
    n = next(_counter)
    channel_id = int(os.environ["FLOOR_CHANNEL_ID"])
    args = ingest_args(channel_id, f"floor-http-{n % 200}", f"floor-http-{_run}-{n}", text)
    async with _pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(SQL, *args)
    return orjson.dumps({"id": row["o_message_id"], "conversation_id": row["o_conversation_id"]})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await _start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _pool is not None:
                    await _pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["method"] == "GET":  # readiness
        status, payload = 200, b"{}"
    else:
        status, payload = 201, await _ingest(body)
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
