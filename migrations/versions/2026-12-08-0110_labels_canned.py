"""labels (and their links to conversations and contacts); canned_responses

Revision ID: 3c1a9e0b7d21
Revises: edac72731d67
Create Date: 2026-12-08 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c1a9e0b7d21"
down_revision: str | None = "edac72731d67"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _link(table: str, owner: str, owner_table: str) -> None:
    op.create_table(
        table,
        sa.Column(owner, sa.BigInteger(), nullable=False),
        sa.Column("label_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            [owner],
            [f"{owner_table}.id"],
            name=op.f(f"fk_{table}_{owner}_{owner_table}"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["label_id"],
            ["labels.id"],
            name=op.f(f"fk_{table}_label_id_labels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(owner, "label_id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_label_id"), table, ["label_id"])


def upgrade() -> None:
    op.create_table(
        "labels",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("colour", sa.String(length=7), server_default="#6b7280", nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
    )
    op.create_index("uq_labels_name_lower", "labels", [sa.text("lower(name)")], unique=True)
    _link("conversation_labels", "conversation_id", "conversations")
    _link("contact_labels", "contact_id", "contacts")
    op.create_table(
        "canned_responses",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("team_id", sa.BigInteger(), nullable=True),
        sa.Column("short_code", sa.String(length=50), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "(scope = 'personal' AND owner_id IS NOT NULL AND team_id IS NULL)"
            " OR (scope = 'team' AND team_id IS NOT NULL AND owner_id IS NULL)"
            " OR (scope = 'shared' AND owner_id IS NULL AND team_id IS NULL)",
            name=op.f("ck_canned_responses_scope_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["operators.id"],
            name=op.f("fk_canned_responses_owner_id_operators"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_canned_responses_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["operators.id"],
            name=op.f("fk_canned_responses_created_by_operators"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_responses")),
    )
    op.create_index(
        "uq_canned_responses_code",
        "canned_responses",
        [
            "scope",
            sa.text("coalesce(owner_id, 0)"),
            sa.text("coalesce(team_id, 0)"),
            sa.text("lower(short_code)"),
        ],
        unique=True,
    )


def downgrade() -> None:
    op.drop_table("canned_responses")
    op.drop_table("contact_labels")
    op.drop_table("conversation_labels")
    op.drop_index("uq_labels_name_lower", table_name="labels")
    op.drop_table("labels")
