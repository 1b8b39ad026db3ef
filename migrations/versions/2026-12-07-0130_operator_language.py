"""operators.language: the console's language an operator chose (null: the browser's)

Revision ID: edac72731d67
Revises: f4d5e6f7a8b9
Create Date: 2026-12-07 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "edac72731d67"
down_revision: str | None = "f4d5e6f7a8b9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("operators", sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column("operators", "language")
