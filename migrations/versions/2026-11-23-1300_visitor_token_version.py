"""visitor token version: widget sessions of a contact can be ended (revoked)

Revision ID: b81d0c6e4f27
Revises: 9b1d2c3e4f50
Create Date: 2026-11-23 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b81d0c6e4f27"
down_revision: str | None = "9b1d2c3e4f50"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column(
        "contacts",
        sa.Column("visitor_token_version", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("contacts", "visitor_token_version")
