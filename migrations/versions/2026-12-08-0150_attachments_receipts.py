"""Web-chat visitors' uploads: attachments.contact_id.

Revision ID: 5b2e8c4f1a70
Revises: 7b2f0c4d9e13
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b2e8c4f1a70"
down_revision: str | None = "7b2f0c4d9e13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("attachments", sa.Column("contact_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_attachments_contact_id_contacts"),
        "attachments",
        "contacts",
        ["contact_id"],
        ["id"],
        ondelete="CASCADE",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_attachments_contact_id_contacts"), "attachments", type_="foreignkey"
    )
    op.drop_column("attachments", "contact_id")
