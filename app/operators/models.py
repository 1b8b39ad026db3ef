import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin
from app.db.types import str_enum


class Role(enum.StrEnum):
    admin = "admin"
    operator = "operator"


class Presence(enum.StrEnum):
    online = "online"
    away = "away"
    offline = "offline"


team_members = Table(
    "team_members",
    Base.metadata,
    Column("team_id", ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True),
    Column("operator_id", ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
)


class Team(TimestampMixin, Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Routing settings (see app/routing): how new conversations reach the team's members.
    strategy: Mapped[str] = mapped_column(String(32), default="balanced", server_default="balanced")
    response_target_seconds: Mapped[int] = mapped_column(Integer, default=300, server_default="300")
    max_reassignments: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    queue_alert_seconds: Mapped[int] = mapped_column(Integer, default=600, server_default="600")
    release_on_offline: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    # IANA name for the team's days (cadence, reports); null = the deployment's default_timezone.
    timezone: Mapped[str | None] = mapped_column(String(64))


class Operator(TimestampMixin, Base):
    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[Role] = mapped_column(str_enum(Role, "operator_role"), default=Role.operator)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    presence: Mapped[Presence] = mapped_column(
        str_enum(Presence, "operator_presence"), default=Presence.offline, server_default="offline"
    )
    max_open_conversations: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    max_base_size: Mapped[int] = mapped_column(Integer, default=500, server_default="500")
    last_assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Open operator consoles (WebSockets): presence is online while one is open.
    live_sessions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Carried in every access token; bumped by logout and password change, which revokes
    # every token issued before.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The console's language ("en", "ru"); None follows the browser (app/console/i18n.py).
    language: Mapped[str | None] = mapped_column(String(8))


operator_channels = Table(
    "operator_channels",
    Base.metadata,
    Column("operator_id", ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "channel_account_id",
        ForeignKey("channel_accounts.id", ondelete="CASCADE"),
        primary_key=True,
    ),
)
"""The channels an operator serves. An operator with no rows serves every channel."""


class ApiKey(TimestampMixin, Base):
    """An integration's key. Only a SHA-256 of the secret is kept (the secret is random, so a
    fast hash is safe and keeps the per-request check cheap)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("operators.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
