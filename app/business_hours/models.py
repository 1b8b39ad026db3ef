import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class BusinessHours(Base):
    """A team's schedule header. A team without a row is always open (and its targets count
    plain time): business hours are opt-in."""

    __tablename__ = "business_hours"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    timezone: Mapped[str] = mapped_column(String(64))  # IANA; the schedule is in its wall time
    # Response targets count only open time (app/business_hours/sql/business_due_at.sql).
    business_time_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BusinessInterval(Base):
    """One opening of a weekday: [start_minute, end_minute) of local wall time, 0..1440
    (1440 = midnight at the day's end). Several per weekday; they never overlap."""

    __tablename__ = "business_intervals"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 1 AND 7", name="weekday"),
        CheckConstraint(
            "0 <= start_minute AND start_minute < end_minute AND end_minute <= 1440", name="minutes"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    team_id: Mapped[int] = mapped_column(
        ForeignKey("business_hours.team_id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger)  # ISO: 1 = Monday .. 7 = Sunday
    start_minute: Mapped[int] = mapped_column(SmallInteger)
    end_minute: Mapped[int] = mapped_column(SmallInteger)


class BusinessHoliday(Base):
    """A local date the team is closed all day."""

    __tablename__ = "business_holidays"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("business_hours.team_id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))


class AutoReplyKind(enum.StrEnum):
    greeting = "greeting"  # the first message of a new conversation
    out_of_office = "out_of_office"  # a client wrote outside the team's hours


class AutoReplyText(Base):
    """A channel's automatic reply text in one language (no row: that reply is off)."""

    __tablename__ = "auto_reply_texts"

    channel_account_id: Mapped[int] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class AutoReplyClaim(Base):
    """Exactly once: the transaction that inserts (conversation, kind, period) sends the
    reply; a concurrent one waits on the key and then inserts nothing. period_start is the
    start of the off-hours period (out-of-office) or the epoch (greeting: once ever)."""

    __tablename__ = "auto_reply_claims"

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
