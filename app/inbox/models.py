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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin
from app.db.types import str_enum


class ConversationStatus(enum.StrEnum):
    open = "open"
    pending = "pending"
    resolved = "resolved"
    snoozed = "snoozed"
    # An agent bot answers it (app/bots); routing, the queue and deadlines leave it alone
    # until a handoff opens it.
    bot = "bot"


class Direction(enum.StrEnum):
    inbound = "inbound"
    outbound = "outbound"
    internal = "internal"  # private notes: never sent to the client


class SenderType(enum.StrEnum):
    contact = "contact"
    operator = "operator"
    integration = "integration"
    system = "system"
    bot = "bot"  # an agent bot's answer


class DeliveryState(enum.StrEnum):
    received = "received"  # inbound, stored
    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    read = "read"
    failed = "failed"


class Conversation(TimestampMixin, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        # At most one active conversation per contact and channel: the ingest upserts on it.
        # The predicate is app.inbox.rules.NOT_CLOSED_SQL (tests/inbox/test_rules.py).
        Index(
            "uq_conversations_active_contact_channel",
            "contact_id",
            "channel_account_id",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
        ),
        Index("ix_conversations_activity", text("last_activity_at DESC"), text("id DESC")),
        # A contact's conversations newest first: the search's "latest conversation" per hit.
        Index(
            "ix_conversations_contact_activity",
            "contact_id",
            text("last_activity_at DESC"),
            text("id DESC"),
        ),
        Index("ix_conversations_assignee_activity", "assignee_id", text("last_activity_at DESC")),
        Index(
            "ix_conversations_queue",
            "queued_at",
            postgresql_where=text("assignee_id IS NULL AND status <> 'resolved'"),
        ),
        Index(
            "ix_conversations_response_due",
            "response_due_at",
            postgresql_where=text("response_due_at IS NOT NULL"),
        ),
        # The routing timers' wake-up of snoozed conversations (app/routing/tasks.py).
        Index(
            "ix_conversations_snoozed",
            "snoozed_until",
            postgresql_where=text("status = 'snoozed'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel_account_id: Mapped[int] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="CASCADE")
    )
    identity_id: Mapped[int] = mapped_column(
        ForeignKey("contact_identities.id", ondelete="CASCADE")
    )
    status: Mapped[ConversationStatus] = mapped_column(
        str_enum(ConversationStatus, "conversation_status"),
        default=ConversationStatus.open,
        server_default=ConversationStatus.open.value,
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    priority: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    snoozed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_activity_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    unread_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Routing state (app/routing): when it joined the queue, the assignee's answer deadline,
    # how often it was taken away for a missed deadline, and whether the lead was flagged.
    queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    queue_alerted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    response_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reassign_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    slow_response: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Who sent it back to the queue: no drain hands it back to them (cleared on assignment).
    declined_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))


class Message(TimestampMixin, Base):
    __tablename__ = "messages"
    __table_args__ = (
        # Idempotency: a redelivered provider update or a retried widget POST is a no-op.
        UniqueConstraint("channel_account_id", "external_id"),
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index(
            "ix_messages_provider_message_id",
            "channel_account_id",
            "provider_message_id",
            postgresql_where=text("provider_message_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel_account_id: Mapped[int] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="CASCADE")
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "message_direction"))
    sender_type: Mapped[SenderType] = mapped_column(str_enum(SenderType, "message_sender_type"))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24), default="text", server_default="text")
    text: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default="[]"
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    # received (inbound), queued -> sent -> delivered -> read | failed (outbound), NULL (notes)
    delivery_state: Mapped[DeliveryState | None] = mapped_column(
        str_enum(DeliveryState, "message_delivery_state")
    )
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
