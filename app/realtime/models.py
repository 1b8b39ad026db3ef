from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class WsTicket(Base):
    """A single-use WebSocket ticket (app/realtime/tickets.py). Only a hash of the ticket is
    stored; any node redeems it, exactly once, with DELETE ... RETURNING."""

    __tablename__ = "ws_tickets"

    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "operator" | "visitor"
    claims: Mapped[dict[str, Any]] = mapped_column(JSONB)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_ws_tickets_expires_at", "expires_at"),)
