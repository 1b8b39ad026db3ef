"""analytics indexes: partial, covering indexes on touchpoints for the sales reports

Revision ID: 7a3c51e0b2d4
Revises: 4e9f44a320c0
Create Date: 2026-11-23 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a3c51e0b2d4"
down_revision: str | None = "4e9f44a320c0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# app.touchpoints.models.CLIENT_TOUCH_KINDS when this was written.
CLIENT_KINDS = "kind IN ('message', 'notification', 'survey', 'call', 'meeting', 'button', 'email')"


def upgrade() -> None:
    op.create_index(
        "ix_touchpoints_client_contact_occurred",
        "touchpoints",
        ["contact_id", "occurred_at"],
        unique=False,
        postgresql_include=["channel", "operator_id", "chain", "step"],
        postgresql_where=sa.text(CLIENT_KINDS),
    )
    op.create_index(
        "ix_touchpoints_negative_occurred",
        "touchpoints",
        ["occurred_at"],
        unique=False,
        postgresql_where=sa.text("reaction = 'negative'"),
    )
    op.create_index(
        "ix_touchpoints_inbound_occurred",
        "touchpoints",
        ["occurred_at"],
        unique=False,
        postgresql_include=["operator_id", "conversation_id", "channel"],
        postgresql_where=sa.text("kind = 'message' AND direction = 'inbound'"),
    )


def downgrade() -> None:
    op.drop_index("ix_touchpoints_inbound_occurred", table_name="touchpoints")
    op.drop_index("ix_touchpoints_negative_occurred", table_name="touchpoints")
    op.drop_index("ix_touchpoints_client_contact_occurred", table_name="touchpoints")
