"""useful messages on cadence: each category's automated message period (DOMAIN.md: C every
3 weeks, D every month), the templates per category and language, one claim per client and
due period, the contact's opt-out of automated messages, the opt-out words

Revision ID: f3c4d5e6f7a9
Revises: f2b3c4d5e6f8
Create Date: 2026-12-07 11:00:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "f3c4d5e6f7a9"
down_revision: str | None = "f2b3c4d5e6f8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPT_OUT_WORDS = ["stop", "стоп", "отписаться"]


def upgrade() -> None:
    op.add_column("categories", sa.Column("message_cadence_days", sa.Integer(), nullable=True))
    op.execute("UPDATE categories SET message_cadence_days = 21 WHERE code = 'C'")
    op.execute("UPDATE categories SET message_cadence_days = 30 WHERE code = 'D'")
    op.add_column(
        "contacts",
        sa.Column("automated_opt_out_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "sales_settings",
        sa.Column(
            "opt_out_words",
            postgresql.JSONB(),
            nullable=False,
            server_default=sa.text(f"'{json.dumps(OPT_OUT_WORDS, ensure_ascii=False)}'::jsonb"),
        ),
    )
    # The default only fills the one row; like the other settings, the column has none.
    op.alter_column("sales_settings", "opt_out_words", server_default=None)
    op.create_table(
        "cadence_templates",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["category"],
            ["categories.code"],
            name=op.f("fk_cadence_templates_category_categories"),
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cadence_templates")),
        sa.UniqueConstraint("category", "language", name=op.f("uq_cadence_templates_category")),
    )
    op.create_table(
        "cadence_sends",
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("skipped", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_cadence_sends_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_cadence_sends_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("contact_id", "due_on", name=op.f("pk_cadence_sends")),
    )


def downgrade() -> None:
    op.drop_table("cadence_sends")
    op.drop_table("cadence_templates")
    op.drop_column("sales_settings", "opt_out_words")
    op.drop_column("contacts", "automated_opt_out_at")
    op.drop_column("categories", "message_cadence_days")
