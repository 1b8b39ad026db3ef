import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base
from app.db.types import str_enum


class TouchKind(enum.StrEnum):
    message = "message"
    notification = "notification"
    assignment = "assignment"
    status_change = "status_change"
    survey = "survey"
    note = "note"
    call = "call"
    meeting = "meeting"
    button = "button"
    delivery_failure = "delivery_failure"
    email = "email"
    stage_change = "stage_change"
    alert = "alert"


# Touches the client takes part in: these count toward the rule of seven, conversion by
# touch number and the cadence. Internal bookkeeping (assignments, notes, status and stage
# changes, alerts) and failed deliveries do not.
CLIENT_TOUCH_KINDS = (
    TouchKind.message,
    TouchKind.notification,
    TouchKind.survey,
    TouchKind.call,
    TouchKind.meeting,
    TouchKind.button,
    TouchKind.email,
)


class Reaction(enum.StrEnum):
    positive = "positive"
    neutral = "neutral"
    negative = "negative"
    unknown = "unknown"


class Touchpoint(Base):
    """One interaction with a client. Channel is free text (telegram, whatsapp, webchat, api,
    phone, ...) because touches logged by hand come from channels we do not connect."""

    __tablename__ = "touchpoints"
    __table_args__ = (
        # Exactly one message touchpoint per message, even when ingest is retried.
        Index(
            "uq_touchpoints_message_kind",
            "message_id",
            "kind",
            unique=True,
            postgresql_where=text("message_id IS NOT NULL"),
        ),
        Index("ix_touchpoints_contact_occurred", "contact_id", "occurred_at"),
        Index("ix_touchpoints_occurred", "occurred_at"),
        Index("ix_touchpoints_operator_occurred", "operator_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(32))
    direction: Mapped[str] = mapped_column(String(16))
    kind: Mapped[TouchKind] = mapped_column(str_enum(TouchKind, "touch_kind"))
    chain: Mapped[str | None] = mapped_column(String(64))
    step: Mapped[str | None] = mapped_column(String(64))
    reaction: Mapped[Reaction] = mapped_column(
        str_enum(Reaction, "touch_reaction"), default=Reaction.unknown, server_default="unknown"
    )
    recurrence: Mapped[str | None] = mapped_column(String(16))  # one_off | repeating
    attention: Mapped[str | None] = mapped_column(String(16))  # short | long
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
