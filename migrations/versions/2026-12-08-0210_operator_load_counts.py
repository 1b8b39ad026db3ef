"""operator_load_counts: each operator's open conversations and live base, kept by triggers
(declared in app/routing/sql.py, installed by the sync at head) instead of counted at every
routing

Revision ID: 5e0d2c9a7b31
Revises: 9c4e1b7a2f60
Create Date: 2026-12-06 20:10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e0d2c9a7b31"
down_revision: str | None = "9c4e1b7a2f60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The triggers the sync at head creates; a downgrade below this revision drops them with
# their functions, so nothing writes to the table once it is gone.
_TRIGGER_FUNCTIONS = (
    "chatcentre_open_load_count",
    "chatcentre_count_open_conversations",
    "chatcentre_count_live_base",
)


def upgrade() -> None:
    op.create_table(
        "operator_load_counts",
        sa.Column("operator_id", sa.BigInteger(), nullable=False),
        sa.Column("open_conversations", sa.Integer(), server_default="0", nullable=False),
        sa.Column("live_base", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_operator_load_counts_operator_id_operators"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("operator_id", name=op.f("pk_operator_load_counts")),
    )
    # The counts as of this revision's rules (frozen here: the declared triggers keep them
    # from now on). Same transaction as the sync that creates the triggers.
    op.execute("""
        INSERT INTO operator_load_counts (operator_id, open_conversations, live_base)
        SELECT o.id,
               (SELECT count(*) FROM conversations c
                WHERE c.assignee_id = o.id AND c.status <> 'resolved'),
               (SELECT count(*) FROM contacts ct
                WHERE ct.owner_id = o.id AND ct.stage IS DISTINCT FROM 'lost')
        FROM operators o
    """)


def downgrade() -> None:
    for name in _TRIGGER_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {name}() CASCADE")
    op.drop_table("operator_load_counts")
