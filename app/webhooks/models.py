"""Outgoing webhooks: the endpoints an admin registers, and one delivery row per event and
endpoint (written before anything is sent, so a crash never loses one)."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.crypto import EncryptedJSON
from app.db.base import Base
from app.db.types import str_enum


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"  # gave up after the retry window


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(200), default="", server_default="")
    events: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    # {"secret": "whsec_..."} encrypted at rest: needed in clear to sign, never shown again.
    secret: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # "webhook": an admin's subscription (/api/v1/webhooks). Another kind belongs to another
    # module (an agent bot's endpoint): the fan-out asks that kind's scope which events it gets.
    kind: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")
    # Set at the first failure of a run of failures, cleared by a success: a day of it
    # disables the endpoint (disabled_reason says why, for the console's notice).
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class WebhookDelivery(Base):
    """One message to one endpoint. Claimed by senders with SKIP LOCKED and a lease
    (claimed_until); only the oldest pending delivery of a conversation and endpoint is
    claimable, so a conversation's events arrive in order."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # At most one delivery of a stored event per endpoint (the fan-out may run twice).
        Index(
            "uq_webhook_deliveries_endpoint_event",
            "endpoint_id",
            "event_id",
            unique=True,
            postgresql_where=text("event_id IS NOT NULL"),
        ),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_webhook_deliveries_order",
            "endpoint_id",
            "conversation_id",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    # The stored domain event (None: enqueued directly, e.g. by an automation rule).
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    # The webhook-id header: the same on every attempt, so receivers can deduplicate.
    message_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[int | None] = mapped_column(BigInteger)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[DeliveryStatus] = mapped_column(
        str_enum(DeliveryStatus, "webhook_delivery_status"),
        default=DeliveryStatus.pending,
        server_default="pending",
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    give_up_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
