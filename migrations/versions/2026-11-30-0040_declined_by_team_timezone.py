"""conversations.declined_by (unassign goes to someone else) and teams.timezone (local days)

Revision ID: 5e2b9c71d0a4
Revises: 973357ac19b8
Create Date: 2026-11-30 00:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e2b9c71d0a4"
down_revision: str | None = "973357ac19b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns without defaults: added without rewriting either table.
    op.add_column(
        "conversations",
        sa.Column(
            "declined_by",
            sa.BigInteger(),
            sa.ForeignKey(
                "operators.id",
                name="fk_conversations_declined_by_operators",
                ondelete="SET NULL",
            ),
            nullable=True,
        ),
    )
    op.add_column("teams", sa.Column("timezone", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("teams", "timezone")
    op.drop_column("conversations", "declined_by")
