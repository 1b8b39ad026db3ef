"""search speed: contacts.phone_key kept by PostgreSQL, the contacts' trigram indexes without a
pending list, a contact's conversations newest first

Revision ID: 3b9e2c41d7a5
Revises: 3c1a9e0b7d21
Create Date: 2026-12-08 02:10:00

- contacts.phone_key is chatcentre_phone_key(phone), a stored generated column: the search
  compared the function's two regexps on every candidate row; ix_contacts_phone_key moves from
  the expression to the column.
- The trigram indexes on contacts and their identities get fastupdate = off: with a pending
  list, every search scanned up to 4 MB of unsorted entries until a vacuum merged them (tens
  of milliseconds per index); contacts are written at the rate of new leads, not of messages,
  so the slower insert does not matter. The messages' indexes keep it (ingest speed).
- ix_conversations_contact_activity: a contact's latest conversation for each contact hit.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "3b9e2c41d7a5"
down_revision: str | None = "3c1a9e0b7d21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONTACT_TRIGRAM_INDEXES = (
    "ix_contacts_name_trgm",
    "ix_contacts_email_trgm",
    "ix_contact_identities_external_id_trgm",
    "ix_contact_identities_username_trgm",
)


def _has_trigrams() -> bool:
    if op.get_context().as_sql:
        return True
    found = op.get_bind().execute(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'"))
    return found.first() is not None


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_contacts_phone_key")
    op.execute(
        "ALTER TABLE contacts ADD COLUMN phone_key text "
        "GENERATED ALWAYS AS (chatcentre_phone_key(phone)) STORED"
    )
    if _has_trigrams():
        op.execute(
            "CREATE INDEX ix_contacts_phone_key ON contacts USING gin (phone_key gin_trgm_ops) "
            "WITH (fastupdate = off)"
        )
        for name in CONTACT_TRIGRAM_INDEXES:
            op.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
    op.execute(
        "CREATE INDEX ix_conversations_contact_activity "
        "ON conversations (contact_id, last_activity_at DESC, id DESC)"
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_contact_activity", table_name="conversations")
    op.execute("DROP INDEX IF EXISTS ix_contacts_phone_key")
    op.drop_column("contacts", "phone_key")
    if _has_trigrams():
        for name in CONTACT_TRIGRAM_INDEXES:
            op.execute(f"ALTER INDEX {name} RESET (fastupdate)")
        op.execute(
            "CREATE INDEX ix_contacts_phone_key ON contacts "
            "USING gin (chatcentre_phone_key(phone) gin_trgm_ops)"
        )
