"""search: phones by one key, message text by full-text search and trigrams

Revision ID: f4d5e6f7a8b9
Revises: f3c4d5e6f7a9
Create Date: 2026-12-06 11:00:00.000000

The indexes call the search's SQL functions (app/search/sql.py), which are installed here,
before the indexes, from their declarations; a later change to one of them is a migration
that drops and rebuilds the index using it. The trigram indexes need the pg_trgm extension
(contrib): where the server has none, they are left out and partial matching still works,
by scanning.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

from app.db.sqlfunctions import script
from app.search.sql import ALL

revision: str = "f4d5e6f7a8b9"
down_revision: str | None = "f3c4d5e6f7a9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM_INDEXES = {
    "ix_contacts_phone_key": "contacts USING gin (chatcentre_phone_key(phone) gin_trgm_ops)",
    "ix_contacts_name_trgm": "contacts USING gin (name gin_trgm_ops)",
    "ix_contacts_email_trgm": "contacts USING gin (email gin_trgm_ops)",
    "ix_contact_identities_external_id_trgm": (
        "contact_identities USING gin (external_id gin_trgm_ops)"
    ),
    "ix_contact_identities_username_trgm": "contact_identities USING gin (username gin_trgm_ops)",
    "ix_messages_text_trgm": "messages USING gin (text gin_trgm_ops)",
}


def _has_trigrams() -> bool:
    if op.get_context().as_sql:
        return True  # an offline script is for a server set up for production
    found = op.get_bind().execute(
        text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    )
    return found.first() is not None


def upgrade() -> None:
    for statement in script(ALL):
        op.execute(statement)
    op.execute(
        "CREATE INDEX ix_messages_search ON messages USING gin (chatcentre_search_document(text))"
    )
    if _has_trigrams():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, target in TRIGRAM_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON {target}")


def downgrade() -> None:
    for name in [*TRIGRAM_INDEXES, "ix_messages_search"]:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
    for fn in ALL:
        op.execute(f"DROP FUNCTION IF EXISTS {fn.name}")
