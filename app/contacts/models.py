from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin


class Contact(TimestampMixin, Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    # The phone as the search matches it (chatcentre_phone_key, app/search/sql): kept by
    # PostgreSQL so a search reads it instead of running two regexps per row.
    phone_key: Mapped[str | None] = mapped_column(
        Text, Computed("chatcentre_phone_key(phone)", persisted=True)
    )
    # Whether someone vouches for the phone / email (app/contacts/identity.py): only a vouched
    # value may tie this contact to an order. A widget visitor's typed email is not.
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="SET NULL"), index=True
    )
    stage: Mapped[str] = mapped_column(String(24), default="lead", server_default="lead")
    stage_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Conversion (stage -> customer): when, and at which client touch (the rule of seven).
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    conversion_touch: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(16))
    # How much personal contact the client is worth (1 = the most; see PriorityLevel).
    priority_level: Mapped[int | None] = mapped_column(
        ForeignKey("priority_levels.level", ondelete="SET NULL"), index=True
    )
    source: Mapped[str | None] = mapped_column(String(300))
    preferred_channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="SET NULL")
    )
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Carried in every widget visitor token of the contact ("ver"); bumping it ends all of
    # them (POST /api/v1/contacts/{id}/revoke-widget-sessions).
    # Set when the client asked for no automated messages (replied "stop"); the useful
    # messages on cadence skip them. Operators see and clear it on the contact card.
    automated_opt_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    visitor_token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ContactIdentity(TimestampMixin, Base):
    """How a contact is known on one channel account (Telegram user id, wa_id, visitor id)."""

    __tablename__ = "contact_identities"
    __table_args__ = (UniqueConstraint("channel_account_id", "external_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # Deferred: ingest inserts the identity first (its row lock serialises one sender's
    # messages) and the new contact after it, in the same transaction.
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE", deferrable=True, initially="DEFERRED"),
        index=True,
    )
    channel_account_id: Mapped[int] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="CASCADE")
    )
    external_id: Mapped[str] = mapped_column(String(200))
    username: Mapped[str | None] = mapped_column(String(200))
    display_name: Mapped[str | None] = mapped_column(String(300))
    reachable: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    unreachable_reason: Mapped[str | None] = mapped_column(Text)
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Category(Base):
    """A client category and its cadence (DOMAIN.md: A-D by default, editable)."""

    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)  # queue and report order; lower first
    cadence_days: Mapped[int] = mapped_column(Integer)  # a touch at least this often
    call_cadence_days: Mapped[int | None] = mapped_column(Integer)  # a call this often, if set
    # An automated useful message this often, if set (app/sales/cadence_messages.py).
    message_cadence_days: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)


class PriorityLevel(Base):
    """A level of personal contact (DOMAIN.md: 5 levels, 1 the most promising) and what a
    manager owes each client of the level per period. The five rows are seeded by the
    migration; admins rename them and change their quotas, never their number."""

    __tablename__ = "priority_levels"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    calls: Mapped[int] = mapped_column(Integer)
    meetings: Mapped[int] = mapped_column(Integer)
    messages: Mapped[int] = mapped_column(Integer)
    period_days: Mapped[int] = mapped_column(Integer)  # the quota is owed per this many days
