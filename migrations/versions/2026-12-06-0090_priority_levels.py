"""priority levels: what personal contact each of 5 levels of client is owed per period
(DOMAIN.md's defaults, editable), and the contact's level

Revision ID: f1a2b3c4d5e7
Revises: e0f1a2b3c4d6
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f1a2b3c4d5e7"
down_revision: str | None = "e0f1a2b3c4d6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# DOMAIN.md, per preparation period (taken as four weeks): level 1 five calls and five
# meetings ... level 5 none ("one meeting if the chance arises" is not owed). DOMAIN.md
# names no message quota: 0 until an admin sets one.
PERIOD_DAYS = 28
DEFAULTS = [
    (1, "Strong and loyal, buying rarely", 5, 5),
    (2, "New, financially strong", 4, 4),
    (3, "Loyal, middle income", 3, 3),
    (4, "Rare or new, middle income", 2, 2),
    (5, "One-off and seasonal", 0, 0),
]


def upgrade() -> None:
    levels = op.create_table(
        "priority_levels",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("meetings", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("level", name=op.f("pk_priority_levels")),
    )
    op.bulk_insert(
        levels,
        [
            {
                "level": level,
                "name": name,
                "calls": calls,
                "meetings": meetings,
                "messages": 0,
                "period_days": PERIOD_DAYS,
            }
            for level, name, calls, meetings in DEFAULTS
        ],
    )
    op.add_column("contacts", sa.Column("priority_level", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_contacts_priority_level"), "contacts", ["priority_level"])
    op.create_foreign_key(
        op.f("fk_contacts_priority_level_priority_levels"),
        "contacts",
        "priority_levels",
        ["priority_level"],
        ["level"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_contacts_priority_level_priority_levels"), "contacts", type_="foreignkey"
    )
    op.drop_index(op.f("ix_contacts_priority_level"), table_name="contacts")
    op.drop_column("contacts", "priority_level")
    op.drop_table("priority_levels")
