"""Who vouches for what we know of a person: the one rule for tying data to a contact.

Only a vouched fact may tie a shop's order (app/chains/contacts.py), and so its messages and
its owner manager, to a contact who writes to us:
- an identity a provider or a proof stands behind: a Telegram user id, a WhatsApp wa_id, a
  widget `user:` identifier proven by identifier_hash, or a contact id the integration names;
- a phone or email with phone_verified / email_verified: the provider's word (the wa_id, a
  Telegram user's own shared contact; a connector's Sender.phone/email, by contract) or the
  business's (the shop's order data, an operator, an API key).
What a widget visitor types (email, name) is kept for the operator to read but vouches for
nothing: anyone can type Carol's email. Contacts are never merged, so a conversation is
routed to the owner of its own contact only."""

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.contacts.models import Contact
from connectors.base import Sender

# A widget identity proven by identifier_hash; anonymous visitors are "visitor:<uuid>".
PROVEN_WIDGET_PREFIX = "user:"


def proven_widget_id(identifier: str) -> str:
    return PROVEN_WIDGET_PREFIX + identifier


def vouched_phone(forms: list[str]) -> ColumnElement[bool]:
    """Contacts whose phone, vouched for, is one of these spellings."""
    return and_(Contact.phone.in_(forms), Contact.phone_verified.is_(True))


def vouched_email(email: str) -> ColumnElement[bool]:
    return and_(func.lower(Contact.email) == email.lower(), Contact.email_verified.is_(True))


def vouched_by_business(changes: dict[str, Any]) -> dict[str, Any]:
    """A phone or email the business writes (an operator, an API key, a shop) is vouched."""
    out = dict(changes)
    for field in ("phone", "email"):
        if field in changes:
            out[f"{field}_verified"] = changes[field] is not None
    return out


async def declare_email(session: AsyncSession, contact_id: int, email: str | None) -> None:
    """What a visitor typed: shown on the card if it has no email yet, never vouched."""
    if email is None:
        return
    await session.execute(
        update(Contact)
        .where(Contact.id == contact_id, Contact.email.is_(None))
        .values(email=email, email_verified=False)
    )


# The statement is the SQL function chatcentre_upsert_identity (app/contacts/sql.py).
_UPSERT_IDENTITY = text("""
SELECT * FROM chatcentre_upsert_identity(
    :channel_id, :external_id, :username, :name, :email, :phone, :source, :inbound_at, :now)
""")


async def upsert_identity(
    session: AsyncSession, channel_id: int, sender: Sender, now: datetime, inbound: bool
) -> tuple[int, int, bool]:
    """The sender's identity on this channel and its contact, created or refreshed; a
    Sender's phone and email are stored as vouched (the provider's word). Returns (identity
    id, contact id, contact created). `inbound`: the person wrote now (this opens provider
    reply windows), as opposed to, say, opening a widget session. The ingest does the same
    inside its own function."""
    row = (
        await session.execute(
            _UPSERT_IDENTITY,
            {
                "channel_id": channel_id,
                "external_id": sender.external_id,
                "username": sender.username,
                "name": sender.name,
                "inbound_at": now if inbound else None,
                "email": sender.email,
                "phone": sender.phone,
                "source": sender.source,
                "now": now,
            },
        )
    ).one()
    identity_id, contact_id, inserted = row
    return identity_id, contact_id, bool(inserted)
