"""An agent bot: its own webhook endpoint (app/webhooks, kind "agent_bot": the events of its
conversations are delivered there, signed and retried like any webhook), a token it answers
with (only its hash is stored), and the channels whose new conversations it takes first."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Identity, String, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class AgentBot(Base):
    __tablename__ = "agent_bots"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), unique=True)
    # The token is "ccbot_<prefix>_<secret>": the prefix finds the row, the secret's sha256
    # is compared (like API keys).
    token_prefix: Mapped[str] = mapped_column(String(24), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class AgentBotChannel(Base):
    """A channel answered by a bot first: at most one bot per channel."""

    __tablename__ = "agent_bot_channels"

    channel_account_id: Mapped[int] = mapped_column(
        ForeignKey("channel_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    agent_bot_id: Mapped[int] = mapped_column(
        ForeignKey("agent_bots.id", ondelete="CASCADE"), index=True
    )
