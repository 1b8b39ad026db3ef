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
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin


class AutomationRule(TimestampMixin, Base):
    """A rule: when `trigger` happens and every condition holds, run `actions` in order.
    The bodies are validated by app.automation.schemas (stored as their JSON)."""

    __tablename__ = "automation_rules"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    trigger: Mapped[dict[str, Any]] = mapped_column(JSONB)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default="[]"
    )
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")


class AutomationRun(Base):
    """The claim of one (rule, occasion): an occasion is a stored event ("event:<id>") or a
    timer ("no_reply:<conversation id>"). Inserted before the actions, in their
    transaction, so a redelivered event or a second worker finds the row and skips."""

    __tablename__ = "automation_runs"
    __table_args__ = (
        UniqueConstraint("rule_id", "occasion"),
        Index("ix_automation_runs_conversation_at", "conversation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"))
    occasion: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    # How many actions ran (the per-conversation rate cap sums these over the last minute).
    actions_run: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Macro(TimestampMixin, Base):
    """A saved action list an operator runs on a conversation: personal (owner_id) or
    shared by everyone (owner_id NULL, kept by admins)."""

    __tablename__ = "macros"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="CASCADE"))
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, server_default="[]")
