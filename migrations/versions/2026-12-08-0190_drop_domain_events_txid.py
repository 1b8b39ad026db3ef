"""domain_events.txid dropped: readers wait at gaps in ids (app/events/store.py), not below
the oldest running transaction, so nothing reads the writer's transaction id any more

Revision ID: b68448baf348
Revises: 5d2f8a61c0b3
Create Date: 2026-12-08 01:90
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b68448baf348"
down_revision: str | None = "5d2f8a61c0b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


class _Xid8(sa.types.UserDefinedType[int]):
    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "xid8"


def upgrade() -> None:
    op.drop_column("domain_events", "txid")


def downgrade() -> None:
    # Rows written meanwhile get the id of the transaction that re-adds the column.
    op.add_column(
        "domain_events",
        sa.Column("txid", _Xid8(), server_default=sa.text("pg_current_xact_id()"), nullable=False),
    )
