"""domain_events.txid dropped: readers wait at gaps in ids (app/events/store.py), not below
the oldest running transaction, so nothing reads the writer's transaction id any more

Revision ID: b68448baf348
Revises: 5d2f8a61c0b3
Create Date: 2026-12-08 01:90
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b68448baf348"
down_revision: str | None = "5d2f8a61c0b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column("domain_events", "txid")


def downgrade() -> None:
    # Rows written meanwhile get the id of the transaction that re-adds the column.
    op.execute(
        "ALTER TABLE domain_events ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id()"
    )
