"""channel type free: any registered channel plugin's type, no CHECK (a new channel needs
no migration)

Revision ID: e0f1a2b3c4d6
Revises: d0e1a2b3c4d5
Create Date: 2026-12-05 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "e0f1a2b3c4d6"
down_revision: str | None = "d0e1a2b3c4d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHECK = "ck_channel_accounts_channel_type"


def upgrade() -> None:
    # The column stays VARCHAR(24): the type names a plugin (app/channels/registry.py).
    op.drop_constraint(op.f(_CHECK), "channel_accounts", type_="check")


def downgrade() -> None:
    # Fails while a channel of a type other than these three exists: delete it first.
    op.create_check_constraint(
        op.f(_CHECK), "channel_accounts", "type IN ('webchat', 'telegram', 'whatsapp')"
    )
