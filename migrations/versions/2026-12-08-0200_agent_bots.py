"""agent_bots and the channels they answer first; conversation status `bot`, sender type
`bot`; webhook_endpoints.kind (a bot's own endpoint is not a subscription)

Revision ID: 9c4e1b7a2f60
Revises: b68448baf348
Create Date: 2026-12-08 01:90
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c4e1b7a2f60"
down_revision: str | None = "b68448baf348"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS = "ck_conversations_conversation_status"
_SENDER = "ck_messages_message_sender_type"


def _replace_check(table: str, name: str, column: str, values: tuple[str, ...]) -> None:
    op.drop_constraint(op.f(name), table, type_="check")
    listed = ", ".join(f"'{v}'" for v in values)
    op.create_check_constraint(op.f(name), table, f"{column} IN ({listed})")


def upgrade() -> None:
    op.add_column(
        "webhook_endpoints",
        sa.Column("kind", sa.String(length=16), server_default="webhook", nullable=False),
    )
    op.create_table(
        "agent_bots",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("endpoint_id", sa.BigInteger(), nullable=False),
        sa.Column("token_prefix", sa.String(length=24), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_agent_bots_endpoint_id_webhook_endpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_bots")),
        sa.UniqueConstraint("endpoint_id", name=op.f("uq_agent_bots_endpoint_id")),
        sa.UniqueConstraint("token_prefix", name=op.f("uq_agent_bots_token_prefix")),
    )
    op.create_table(
        "agent_bot_channels",
        sa.Column("channel_account_id", sa.BigInteger(), nullable=False),
        sa.Column("agent_bot_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_bot_id"],
            ["agent_bots.id"],
            name=op.f("fk_agent_bot_channels_agent_bot_id_agent_bots"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_account_id"],
            ["channel_accounts.id"],
            name=op.f("fk_agent_bot_channels_channel_account_id_channel_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel_account_id", name=op.f("pk_agent_bot_channels")),
    )
    op.create_index("ix_agent_bot_channels_agent_bot_id", "agent_bot_channels", ["agent_bot_id"])
    _replace_check(
        "conversations", _STATUS, "status", ("open", "pending", "resolved", "snoozed", "bot")
    )
    _replace_check(
        "messages",
        _SENDER,
        "sender_type",
        ("contact", "operator", "integration", "system", "bot"),
    )


def downgrade() -> None:
    # Fails while a conversation is with a bot or a bot's message exists: hand off first.
    _replace_check(
        "messages", _SENDER, "sender_type", ("contact", "operator", "integration", "system")
    )
    _replace_check("conversations", _STATUS, "status", ("open", "pending", "resolved", "snoozed"))
    op.drop_index("ix_agent_bot_channels_agent_bot_id", table_name="agent_bot_channels")
    op.drop_table("agent_bot_channels")
    op.drop_table("agent_bots")
    op.drop_column("webhook_endpoints", "kind")
