"""Contacts: the client card (its lifecycle stage, category and owner), the categories
with their cadence, and the client's identities. What happened with the client is the
touchpoint log's (app/touchpoints)."""

from datetime import UTC, datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.contacts import identity
from app.contacts.models import Category, Contact, ContactIdentity, PriorityLevel
from app.contacts.schemas import CategoryWrite, ContactUpdate, PriorityLevelUpdate
from app.core.errors import Conflict, Invalid, NotFound
from app.core.pagination import parse_id_cursor
from app.events.dispatch import raise_event
from app.events.types import ContactUpdated
from app.labels import service as labels
from app.operators import visibility
from app.operators.models import Operator
from app.operators.service import Principal


async def list_contacts(
    session: AsyncSession,
    principal: Principal,
    *,
    q: str | None,
    cursor: str | None,
    limit: int = 25,
    label: str | None = None,
) -> tuple[list[Contact], str | None]:
    stmt = select(Contact).where(*visibility.where(principal, Contact))
    if label:
        stmt = stmt.where(labels.carries("contact", Contact.id, label))
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        stmt = stmt.where(
            or_(Contact.name.ilike(like), Contact.email.ilike(like), Contact.phone.ilike(like))
        )
    before = parse_id_cursor(cursor)
    if before is not None:
        stmt = stmt.where(Contact.id < before)
    rows = list((await session.scalars(stmt.order_by(Contact.id.desc()).limit(limit + 1))).all())
    next_cursor = str(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


async def get_contact(
    session: AsyncSession, principal: Principal, contact_id: int, *, lock: bool = False
) -> Contact:
    await visibility.require(session, principal, Contact, contact_id)
    contact = await session.get(Contact, contact_id, with_for_update=lock)
    if contact is None:
        raise NotFound(f"Contact {contact_id} not found")
    return contact


async def identities_of(session: AsyncSession, contact_id: int) -> list[ContactIdentity]:
    rows = await session.scalars(
        select(ContactIdentity)
        .where(ContactIdentity.contact_id == contact_id)
        .order_by(ContactIdentity.id)
    )
    return list(rows.all())


async def update_contact(
    session: AsyncSession, principal: Principal, contact_id: int, data: ContactUpdate
) -> Contact:
    await visibility.require(session, principal, Contact, contact_id)
    contact = await session.get(Contact, contact_id, with_for_update=True)
    if contact is None:
        raise NotFound(f"Contact {contact_id} not found")
    changes = data.model_dump(exclude_unset=True)
    if (
        changes.get("category") is not None
        and await session.get(Category, changes["category"], with_for_update={"read": True}) is None
    ):
        raise Invalid(f"Unknown category {changes['category']!r}", "unknown_category")
    if (
        changes.get("owner_id") is not None
        and await session.get(Operator, changes["owner_id"]) is None
    ):
        raise Invalid(f"Operator {changes['owner_id']} not found", "unknown_operator")
    if (
        changes.get("preferred_channel_id") is not None
        and await session.get(ChannelAccount, changes["preferred_channel_id"]) is None
    ):
        raise Invalid(f"Channel {changes['preferred_channel_id']} not found", "unknown_channel")
    new_stage = changes.pop("stage", None)
    opt_out = changes.pop("automated_opt_out", None)
    if opt_out is not None and opt_out != (contact.automated_opt_out_at is not None):
        contact.automated_opt_out_at = datetime.now(UTC) if opt_out else None
    written = identity.vouched_by_business(changes)
    for key, value in written.items():
        setattr(contact, key, value)
    previous = contact.stage
    stage_changed = new_stage is not None and new_stage != previous
    if stage_changed:
        contact.stage = new_stage
        contact.stage_changed_at = datetime.now(UTC)
    await session.flush()
    fields = tuple(sorted(written)) + (("stage",) if stage_changed else ())
    if fields:
        # The history (a stage_change touch, the conversion's touch number) is the
        # touchpoints' reaction to this (app/handlers.py).
        await raise_event(
            session,
            ContactUpdated(
                contact_id=contact.id,
                fields=fields,
                stage_from=previous if stage_changed else None,
                stage_to=contact.stage if stage_changed else None,
                by=principal.operator_id,
            ),
        )
    return contact


# ---------------------------------------------------------------- categories


async def list_categories(session: AsyncSession) -> list[Category]:
    rows = await session.scalars(select(Category).order_by(Category.position, Category.code))
    return list(rows.all())


async def put_category(session: AsyncSession, code: str, data: CategoryWrite) -> Category:
    if not code.isalnum() or len(code) > 16:
        raise Invalid("A category code is 1-16 letters or digits", "invalid_category")
    category = await session.get(Category, code)
    if category is None:
        category = Category(code=code, **data.model_dump())
        session.add(category)
    else:
        for key, value in data.model_dump().items():
            setattr(category, key, value)
    await session.flush()
    return category


async def delete_category(session: AsyncSession, code: str, move_to: str | None = None) -> None:
    """Delete a category. Its contacts would silently drop out of cadence: without move_to
    a category in use is a conflict (with the count); with it they move there first, in
    the same transaction. The row lock makes a concurrent PATCH of a contact to this
    category (which takes a share lock) wait, so none is left behind."""
    if await session.get(Category, code, with_for_update=True) is None:
        raise NotFound(f"Category {code!r} not found")
    if move_to is not None:
        if move_to == code or await session.get(Category, move_to) is None:
            raise Invalid(f"move_to {move_to!r} is not another category", "unknown_category")
        await session.execute(
            update(Contact).where(Contact.category == code).values(category=move_to)
        )
    else:
        in_use = int(
            await session.scalar(
                select(func.count()).select_from(Contact).where(Contact.category == code)
            )
            or 0
        )
        if in_use:
            raise Conflict(
                f"{in_use} contacts are in category {code!r}: pass move_to=<category>",
                "category_in_use",
                details={"contacts": in_use},
            )
    await session.execute(delete(Category).where(Category.code == code))


# ---------------------------------------------------------------- priority levels


async def list_priority_levels(session: AsyncSession) -> list[PriorityLevel]:
    rows = await session.scalars(select(PriorityLevel).order_by(PriorityLevel.level))
    return list(rows.all())


async def update_priority_level(
    session: AsyncSession, level: int, data: PriorityLevelUpdate
) -> tuple[PriorityLevel, dict[str, object]]:
    """Returns the level and what changed (for the audit log)."""
    row = await session.get(PriorityLevel, level, with_for_update=True)
    if row is None:
        raise NotFound(f"Priority level {level} not found (levels are 1-5)")
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    for key, value in changes.items():
        setattr(row, key, value)
    await session.flush()
    return row, changes
