"""business hours per team (schedule, holidays), automatic replies per channel and their
once-only claims

Revision ID: b7a1c2d3e4f5
Revises: 3b9e2c41d7a5
Create Date: 2026-12-08 01:20:00.000000

The business-time SQL functions (app/business_hours/sql) and the response deadline that now
calls them are installed by the sync after the upgrade to head (migrations/env.py); the
downgrade puts the earlier deadline back and drops them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7a1c2d3e4f5"
down_revision: str | None = "3b9e2c41d7a5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS = (
    "chatcentre_business_closed_since",
    "chatcentre_business_due_at",
    "chatcentre_business_seconds",
    "chatcentre_business_open",
    "chatcentre_open_intervals",
)

# The deadline as it was at edac72731d67 (plain time).
_PLAIN_RESPONSE_DUE_AT = """
CREATE OR REPLACE FUNCTION chatcentre_response_due_at(p_team_id bigint, p_now timestamptz)
RETURNS TABLE (due_at timestamptz)
LANGUAGE sql STABLE AS $fn$
    SELECT p_now + make_interval(secs => COALESCE(
        (SELECT t.response_target_seconds FROM teams t WHERE t.id = p_team_id),
        300))
$fn$
"""


def upgrade() -> None:
    op.create_table(
        "business_hours",
        sa.Column("team_id", sa.BigInteger(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("business_time_only", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_business_hours_team_id_teams", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_id", name="pk_business_hours"),
    )
    op.create_table(
        "business_intervals",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("team_id", sa.BigInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("start_minute", sa.SmallInteger(), nullable=False),
        sa.Column("end_minute", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("weekday BETWEEN 1 AND 7", name="ck_business_intervals_weekday"),
        sa.CheckConstraint(
            "0 <= start_minute AND start_minute < end_minute AND end_minute <= 1440",
            name="ck_business_intervals_minutes",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["business_hours.team_id"],
            name="fk_business_intervals_team_id_business_hours",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_business_intervals"),
    )
    op.create_index(
        "ix_business_intervals_team_id", "business_intervals", ["team_id"], unique=False
    )
    op.create_table(
        "business_holidays",
        sa.Column("team_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["business_hours.team_id"],
            name="fk_business_holidays_team_id_business_hours",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "day", name="pk_business_holidays"),
    )
    op.create_table(
        "auto_reply_texts",
        sa.Column("channel_account_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_account_id"],
            ["channel_accounts.id"],
            name="fk_auto_reply_texts_channel_account_id_channel_accounts",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "channel_account_id", "kind", "language", name="pk_auto_reply_texts"
        ),
    )
    op.create_table(
        "auto_reply_claims",
        sa.Column("conversation_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_auto_reply_claims_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "conversation_id", "kind", "period_start", name="pk_auto_reply_claims"
        ),
    )


def downgrade() -> None:
    op.execute(_PLAIN_RESPONSE_DUE_AT)
    for name in _FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {name}")
    op.drop_table("auto_reply_claims")
    op.drop_table("auto_reply_texts")
    op.drop_table("business_holidays")
    op.drop_index("ix_business_intervals_team_id", table_name="business_intervals")
    op.drop_table("business_intervals")
    op.drop_table("business_hours")
