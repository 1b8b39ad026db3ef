"""The head of sales' settings (one row, seeded with DOMAIN.md's numbers) and each
manager's weekly target."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, Numeric, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


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
