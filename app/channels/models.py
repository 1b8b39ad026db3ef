import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Identity, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.crypto import EncryptedJSON
from app.db.base import Base, TimestampMixin
from app.db.types import str_enum


class ChannelType(enum.StrEnum):
    webchat = "webchat"
    telegram = "telegram"
    whatsapp = "whatsapp"


class ChannelAccount(TimestampMixin, Base):
    """One connected bot, number or widget. `credentials` are write-only (never serialised)
    and encrypted at rest."""

    __tablename__ = "channel_accounts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    type: Mapped[ChannelType] = mapped_column(str_enum(ChannelType, "channel_type"))
    name: Mapped[str] = mapped_column(String(200))
    # Public routing key: widget key for webchat, unused by providers that post to /{id}.
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    # Encrypted at rest: stored as {"enc": "<Fernet token>"} (app/core/crypto.py).
    credentials: Mapped[dict[str, Any]] = mapped_column(
        EncryptedJSON, default=dict, server_default="{}"
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Set by DELETE: the channel is gone (inactive, out of the list, its webhooks 404) but
    # its conversations and messages stay readable.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
