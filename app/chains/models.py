"""Orders, their status events, the chain's message templates and the watchdog timers."""

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin

CHAIN = "delivery"


class OrderStatus(enum.StrEnum):
    accepted = "accepted"
    shipped = "shipped"
    in_transit = "in_transit"
    delayed = "delayed"
    arrived_in_city = "arrived_in_city"
    courier_scheduled = "courier_scheduled"
    out_for_delivery = "out_for_delivery"
    delivered = "delivered"
    return_requested = "return_requested"
    returned = "returned"
    cancelled = "cancelled"


# Where a status sits in the chain. An event whose rank is not above the order's current one
# arrived late (or repeats a step): it is recorded, never sent after a later step.
RANK: dict[OrderStatus, int] = {
    OrderStatus.accepted: 10,
    OrderStatus.shipped: 20,
    OrderStatus.in_transit: 30,
    OrderStatus.delayed: 35,
    OrderStatus.arrived_in_city: 40,
    OrderStatus.courier_scheduled: 50,
    OrderStatus.out_for_delivery: 60,
    OrderStatus.delivered: 70,
    OrderStatus.return_requested: 80,
    OrderStatus.returned: 90,
    OrderStatus.cancelled: 100,
}


class Order(TimestampMixin, Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    first_name: Mapped[str | None] = mapped_column(String(100))
    items: Mapped[Any] = mapped_column(JSONB, nullable=True)
    amount: Mapped[Any] = mapped_column(JSONB, nullable=True)
    promised_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str | None] = mapped_column(String(32))
    stage_rank: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The public tracking page's key (secrets.token_urlsafe): unguessable, never an id.
    tracking_token: Mapped[str] = mapped_column(String(64), unique=True)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    flag_reason: Mapped[str | None] = mapped_column(Text)
    # Set by the service on every change (an onupdate default would expire it on flush).
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OrderEvent(Base):
    """One status event as the shop posted it, with what we did about it. The first answer
    is stored so a repeated event_id gets exactly the same answer."""

    __tablename__ = "order_events"
    __table_args__ = (UniqueConstraint("order_id", "event_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # sent | late | repeated | disabled | flagged
    outcome: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    response: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")


class ChainTemplate(TimestampMixin, Base):
    """The text a step sends, per language; `enabled` decides whether the step notifies."""

    __tablename__ = "chain_templates"
    __table_args__ = (UniqueConstraint("status", "language"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Rows of {"text", "action"}; sent as buttons whose data is chain:<order>:<step>:<action>.
    buttons: Mapped[list[Any]] = mapped_column(JSONB, default=list, server_default="[]")


class ChainWatchdog(Base):
    """A durable timer: claimed once it is due, marked done so a restart never repeats it."""

    __tablename__ = "chain_watchdogs"
    __table_args__ = (
        UniqueConstraint("order_id", "kind"),
        Index("ix_chain_watchdogs_due", "due_at", postgresql_where=text("done_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
