"""Canned responses: saved replies an operator inserts by a short code (`/code` in the
composer), personal, a team's, or shared by everyone."""

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin


class CannedScope(enum.StrEnum):
    personal = "personal"  # its owner's only
    team = "team"  # the team's members'
    shared = "shared"  # everyone's; admins manage them


class CannedResponse(TimestampMixin, Base):
    __tablename__ = "canned_responses"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), nullable=False)
    owner_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("operators.id", ondelete="CASCADE")
    )
    team_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("teams.id", ondelete="CASCADE")
    )
    short_code: Mapped[str] = mapped_column(String(50), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("operators.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    __table_args__ = (
        CheckConstraint(
            "(scope = 'personal' AND owner_id IS NOT NULL AND team_id IS NULL)"
            " OR (scope = 'team' AND team_id IS NOT NULL AND owner_id IS NULL)"
            " OR (scope = 'shared' AND owner_id IS NULL AND team_id IS NULL)",
            name="scope_owner",
        ),
        # A code is unique among the responses of one owner, of one team, and the shared
        # ones, ignoring case: whoever sees that set never meets two "/hello"s in it.
        Index(
            "uq_canned_responses_code",
            "scope",
            text("coalesce(owner_id, 0)"),
            text("coalesce(team_id, 0)"),
            text("lower(short_code)"),
            unique=True,
        ),
    )
