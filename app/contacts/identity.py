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

from typing import Any

from sqlalchemy import ColumnElement, and_, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.contacts.models import Contact

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
