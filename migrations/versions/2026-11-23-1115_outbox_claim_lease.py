"""outbox claim lease: record each send on its own, so a crash resends at most the instant
between the provider's answer and our commit

Revision ID: 9b1d2c3e4f50
Revises: 7a3c51e0b2d4
Create Date: 2026-11-23 11:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9b1d2c3e4f50"
down_revision: str | None = "7a3c51e0b2d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "claimed_until")
