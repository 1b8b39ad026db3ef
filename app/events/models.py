"""The durable record of domain events, and where each consumer has read up to.

No foreign keys: an event outlives the rows it names. The primary key is the only b-tree
(inserts sit on the hot path of every message); time-range reads use a BRIN index."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, SmallInteger, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class DomainEventRow(Base):
    __tablename__ = "domain_events"
    __table_args__ = (
        Index("ix_domain_events_occurred_brin", "occurred_at", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    aggregate: Mapped[str] = mapped_column(String(32))
    aggregate_id: Mapped[int] = mapped_column(BigInteger)
    actor_kind: Mapped[str | None] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")


class EventConsumer(Base):
    """A reader of domain_events (an outgoing webhook, an automation rule) and its position."""

    __tablename__ = "event_consumers"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
