"""The head of sales' settings (one row, seeded with DOMAIN.md's numbers) and each
manager's weekly target."""

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin


class SalesSettings(Base):
    __tablename__ = "sales_settings"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    # The weekly plan: contacts a manager needs per deal wanted (3 deals ~ 15 contacts).
    contacts_per_deal: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    # A manager's live base: big enough to feed them, small enough to work.
    base_min: Mapped[int] = mapped_column(Integer)
    base_max: Mapped[int] = mapped_column(Integer)
    # The rule of seven's reference: the share of deals closed at touch 1..6 and 7+ (null:
    # DOMAIN.md gives none).
    reference_curve: Mapped[list[Any]] = mapped_column(JSONB)
    # A lead with no client touch this long is dropped (unless it had seven).
    drop_inactive_days: Mapped[int] = mapped_column(Integer)
    # A client of a manager's base is reviewed (move up, down, remove) this often.
    review_period_days: Mapped[int] = mapped_column(Integer)
    # A client's message that is one of these (any case, trailing punctuation aside) opts
    # them out of automated messages.
    opt_out_words: Mapped[list[str]] = mapped_column(JSONB)


class SalesTarget(Base):
    """Deals a manager is to close per week (set by admins and their team leads)."""

    __tablename__ = "sales_targets"

    operator_id: Mapped[int] = mapped_column(
        ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True
    )
    deals_per_week: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))


class CadenceTemplate(TimestampMixin, Base):
    """The useful message a category's clients get on its cadence, per language (admins)."""

    __tablename__ = "cadence_templates"
    __table_args__ = (UniqueConstraint("category", "language"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    category: Mapped[str] = mapped_column(
        ForeignKey("categories.code", ondelete="CASCADE", onupdate="CASCADE")
    )
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class CadenceSend(Base):
    """One automated message per client and due period: the process whose insert of
    (contact, due_on) wins sends it, any other finds the row and skips. `due_on` follows
    from the client's previous row, so every process computes the same key."""

    __tablename__ = "cadence_sends"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    due_on: Mapped[date] = mapped_column(Date, primary_key=True)
    category: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    skipped: Mapped[str | None] = mapped_column(String(64))  # why nothing went out
