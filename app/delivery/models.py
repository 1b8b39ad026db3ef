from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class OutboxItem(Base):
    """A message waiting to be sent. The row exists from the moment the message is queued
    (same transaction) until it is sent or fails for good; dispatchers claim rows with
    FOR UPDATE SKIP LOCKED and a short lease (claimed_until), and record each send in its
    own transaction, so a crashed dispatcher's rows come back when their lease runs out."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due_at", "due_at"),
        # Per-conversation order: a row is only claimable when no older row of its
        # conversation is still waiting.
        Index("ix_outbox_conversation_id_message_id", "conversation_id", "message_id"),
    )

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    conversation_id: Mapped[int] = mapped_column(BigInteger)
    channel_account_id: Mapped[int] = mapped_column(BigInteger)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Set by the dispatcher that claimed the row; others skip it until then (a dispatcher
    # that died releases its rows when this passes).
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class PendingStatus(Base):
    """A provider's status callback for a message id we have not recorded yet: WhatsApp can
    post "sent" or "delivered" before our send's own HTTP answer is committed. Applied when
    the send is recorded (or by the sweep that also drops old ones)."""

    __tablename__ = "pending_statuses"
    __table_args__ = (
        UniqueConstraint("channel_account_id", "provider_message_id", "state"),
        Index("ix_pending_statuses_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    channel_account_id: Mapped[int] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="CASCADE")
    )
    provider_message_id: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_title: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
