"""The contacts' SQL functions."""

from pathlib import Path

from sqlalchemy import Boolean, ColumnElement, func

from app.contacts.models import Contact
from app.db.sqlfunctions import SqlFunction, literal
from app.events.sql import SUBSCRIBED, event_header, event_payload, stored_if
from app.events.types import ContactCreated

_DIR = Path(__file__).parent / "sql"
LOST = "lost"  # the stage of a client who will not buy from us (contacts.schemas.Stage)

# One sender's identity and contact, created or refreshed in one call (the ingest's first
# step; widget sessions call it alone).
UPSERT_IDENTITY = SqlFunction(
    "chatcentre_upsert_identity",
    _DIR / "upsert_identity.sql",
    params={
        "CONTACT_CREATED": event_header(ContactCreated),
        "CONTACT_CREATED_PAYLOAD": event_payload(
            ContactCreated,
            {"contact_id": "o_contact_id", "channel_id": "p_channel_id", "source": "p_source"},
        ),
        "CONTACT_CREATED_STORED": stored_if(ContactCreated),
    },
    depends_on=(SUBSCRIBED,),
)

# A manager's live base: owned and not lost.
IN_LIVE_BASE = SqlFunction(
    "chatcentre_in_live_base", _DIR / "in_live_base.sql", params={"LOST": literal(LOST)}
)


def in_live_base() -> ColumnElement[bool]:
    """The contact (the Contact entity of the query) is in its owner's live base."""
    return func.chatcentre_in_live_base(Contact.owner_id, Contact.stage, type_=Boolean)
