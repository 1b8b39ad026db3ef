"""channel deleted_at: a deleted channel keeps its conversations and messages

Revision ID: 5e0b7a3c9d21
Revises: 9c74d8a5cb3f
Create Date: 2026-11-30 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e0b7a3c9d21"
down_revision: str | None = "9c74d8a5cb3f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "channel_accounts", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("channel_accounts", "deleted_at")
