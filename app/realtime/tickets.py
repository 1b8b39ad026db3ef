"""Single-use WebSocket tickets: no reusable credential travels in a URL.

A console or widget trades its bearer token for a ticket (POST /api/v1/ws-ticket,
POST /widget/v1/{key}/ws-ticket) right before it opens a socket, and connects with
?ticket=. A ticket lives ws_ticket_ttl_seconds (at most 60) and works once, on any node:
it is a row in PostgreSQL (every node already shares it; Redis is optional) that the
redeeming node deletes with DELETE ... RETURNING, so of two nodes redeeming the same ticket
at once exactly one gets the row. Only a SHA-256 of the ticket is stored, and expiry is
judged by the database's clock, not each node's."""

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Unauthorized
from app.realtime.models import WsTicket

OPERATOR = "operator"
VISITOR = "visitor"
_MAX_LENGTH = 128  # ours are 43 characters; anything much longer is not one
_PURGE_BATCH = 100


def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


async def issue(session: AsyncSession, kind: str, claims: dict[str, Any], ttl: int) -> str:
    """A new ticket for `claims` (caller commits). Also drops a few expired, never used
    tickets, skipping rows another node is dropping at the same moment."""
    expired = (
        select(WsTicket.ticket_hash)
        .where(WsTicket.expires_at < func.now())
        .limit(_PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    await session.execute(delete(WsTicket).where(WsTicket.ticket_hash.in_(expired)))
    ticket = secrets.token_urlsafe(32)
    await session.execute(
        insert(WsTicket).values(
            ticket_hash=_digest(ticket),
            kind=kind,
            claims=claims,
            expires_at=func.now() + timedelta(seconds=ttl),
        )
    )
    return ticket


async def redeem(session: AsyncSession, ticket: str, kind: str) -> dict[str, Any]:
    """The ticket's claims; the ticket is gone afterwards (caller commits, also when it
    goes on to refuse the socket). Unknown, used, expired or of the other kind: 401."""
    if not ticket or len(ticket) > _MAX_LENGTH:
        raise Unauthorized("The ticket is not valid", "invalid_ticket")
    row = (
        await session.execute(
            delete(WsTicket)
            .where(WsTicket.ticket_hash == _digest(ticket))
            .returning(WsTicket.kind, WsTicket.claims, WsTicket.expires_at > func.now())
        )
    ).first()
    if row is None or row[0] != kind:
        raise Unauthorized("The ticket is not valid or was used already", "invalid_ticket")
    if not row[2]:
        raise Unauthorized("The ticket has expired: get a new one", "ticket_expired")
    claims: dict[str, Any] = row[1]
    return claims
