"""Finding the client of an order among our contacts (or creating one). Only a vouched
identity, phone or email finds one (app/contacts/identity.py); otherwise the order gets a
contact of its own that only the shop's data vouches for."""

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.chains.schemas import ClientRef
from app.channels import registry
from app.channels.models import ChannelAccount
from app.contacts import identity
from app.contacts.models import Contact, ContactIdentity
from app.core.errors import Invalid
from app.events.dispatch import raise_event
from app.events.types import ContactCreated


async def _by_identity(session: AsyncSession, ctype: str, external_id: str) -> int | None:
    return await session.scalar(
        select(ContactIdentity.contact_id)
        .join(ChannelAccount, ChannelAccount.id == ContactIdentity.channel_account_id)
        .where(ChannelAccount.type == ctype, ContactIdentity.external_id == external_id)
        .order_by(ContactIdentity.last_inbound_at.desc().nulls_last(), ContactIdentity.id)
        .limit(1)
    )


def _digits(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit())


def _phone_forms(phone: str) -> list[str]:
    return sorted({phone, "+" + _digits(phone), _digits(phone)})


async def find_contact(session: AsyncSession, client: ClientRef) -> int | None:
    if client.contact_id is not None:
        if await session.get(Contact, client.contact_id) is None:
            raise Invalid(f"Contact {client.contact_id} not found", "unknown_contact")
        return client.contact_id
    # Each channel names the identities the reference gives (a Telegram id, a wa_id, ...).
    lookup = client.model_dump()
    for plugin in registry.all():
        for external_id in plugin.identity_keys(lookup):
            found = await _by_identity(session, plugin.type, external_id)
            if found is not None:
                return found
    if client.phone:
        found = await session.scalar(
            select(Contact.id)
            .where(identity.vouched_phone(_phone_forms(client.phone)))
            .order_by(Contact.id)
            .limit(1)
        )
        if found is not None:
            return found
    if client.email:
        found = await session.scalar(
            select(Contact.id)
            .where(identity.vouched_email(client.email))
            .order_by(Contact.id)
            .limit(1)
        )
        if found is not None:
            return found
    return None


async def find_or_create_contact(
    session: AsyncSession, client: ClientRef, first_name: str | None
) -> int:
    found = await find_contact(session, client)
    if found is not None:
        return found
    # Only the shop's data vouches for this contact's phone and email.
    contact = Contact(
        name=client.name or first_name,
        **identity.vouched_by_business({"phone": client.phone, "email": client.email}),
        source="orders",
    )
    session.add(contact)
    await session.flush()
    await raise_event(session, ContactCreated(contact_id=contact.id, source=contact.source))
    await _add_initiating_identities(session, contact.id, client)
    return contact.id


async def _add_initiating_identities(
    session: AsyncSession, contact_id: int, client: ClientRef
) -> None:
    """A shop may notify someone who never wrote where the channel lets us write first
    (WhatsApp: a template opens the chat): known by the id the reference gives on our first
    active account of that type, if we have one."""
    lookup = client.model_dump()
    for plugin in registry.all():
        external_id = plugin.initiating_identity(lookup) if plugin.capabilities.initiates else None
        if not external_id:
            continue
        channel_id = await session.scalar(
            select(ChannelAccount.id)
            .where(ChannelAccount.type == plugin.type, ChannelAccount.is_active.is_(True))
            .order_by(ChannelAccount.id)
            .limit(1)
        )
        if channel_id is None:
            continue
        await session.execute(
            pg_insert(ContactIdentity)
            .values(contact_id=contact_id, channel_account_id=channel_id, external_id=external_id)
            .on_conflict_do_nothing()
        )
