from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Identity, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.crypto import EncryptedJSON
from app.db.base import Base, TimestampMixin


class ChannelAccount(TimestampMixin, Base):
    """One connected bot, number or widget. `credentials` are write-only (never serialised)
    and encrypted at rest."""

    __tablename__ = "channel_accounts"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # A registered plugin's type (app/channels/registry.py): no CHECK, so a new channel
    # needs no migration.
    type: Mapped[str] = mapped_column(String(24))
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
