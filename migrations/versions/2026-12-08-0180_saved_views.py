"""saved_views (an operator's named conversation filters); the snoozed conversations' index

Revision ID: 5d2f8a61c0b3
Revises: a7c1e5d2b940
Create Date: 2026-12-08 01:80
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "5d2f8a61c0b3"
down_revision: str | None = "a7c1e5d2b940"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "saved_views",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("operator_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("filters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_saved_views_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
    )
    op.create_index(
        "uq_saved_views_name",
        "saved_views",
        ["operator_id", sa.text("lower(name)")],
        unique=True,
    )
    op.create_index(
        "ix_conversations_snoozed",
        "conversations",
        ["snoozed_until"],
        postgresql_where=sa.text("status = 'snoozed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_snoozed", table_name="conversations")
    op.drop_index("uq_saved_views_name", table_name="saved_views")
    op.drop_table("saved_views")
