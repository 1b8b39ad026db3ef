"""The indexes the search reads (migration ..._search), declared next to the queries they
serve and attached to the contacts' and messages' tables. The trigram ones (gin_trgm_ops)
serve ILIKE '%...%'; ix_messages_search the full-text match."""

from typing import Any

from sqlalchemy import Index, Table, text

from app.contacts.models import Contact, ContactIdentity
from app.inbox.models import Message

_contacts: Table = Contact.__table__  # type: ignore[assignment]
_messages: Table = Message.__table__  # type: ignore[assignment]


def _trigram(name: str, column: Any, *, pending_list: bool = True) -> Index:
    """pending_list=False (fastupdate off) where rows arrive slowly and every search reads
    the index: a pending list is scanned unsorted by each search until a vacuum."""
    key = column.name
    options: dict[str, Any] = {} if pending_list else {"postgresql_with": {"fastupdate": "off"}}
    return Index(
        name, column, postgresql_using="gin", postgresql_ops={key: "gin_trgm_ops"}, **options
    )


contact_name = _trigram("ix_contacts_name_trgm", Contact.__table__.c.name, pending_list=False)
contact_email = _trigram("ix_contacts_email_trgm", Contact.__table__.c.email, pending_list=False)
identity_external_id = _trigram(
    "ix_contact_identities_external_id_trgm",
    ContactIdentity.__table__.c.external_id,
    pending_list=False,
)
identity_username = _trigram(
    "ix_contact_identities_username_trgm",
    ContactIdentity.__table__.c.username,
    pending_list=False,
)
message_text = _trigram("ix_messages_text_trgm", Message.__table__.c.text)
contact_phone_key = _trigram(
    "ix_contacts_phone_key", Contact.__table__.c.phone_key, pending_list=False
)
# Created only where the server has pg_trgm (the embedded PostgreSQL has not: there the
# substring match scans); the migration and tests/db/test_migrations.py read this.
TRIGRAM_INDEXES = frozenset(
    i.name
    for i in (
        contact_name,
        contact_email,
        identity_external_id,
        identity_username,
        message_text,
        contact_phone_key,
    )
    if i.name is not None
)

message_document = Index(
    "ix_messages_search",
    text("chatcentre_search_document(text)"),
    _table=_messages,
    postgresql_using="gin",
)
