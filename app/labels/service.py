"""Labels: the admins' catalogue, and putting labels on conversations and contacts.

The labelling functions take a row the caller has already checked the principal may see
(the inbox and contacts routes do; an automation acts for the installation) and raise
ConversationLabelsChanged / ContactLabelsChanged with what really changed, so a repeated
add or a remove of an absent label changes nothing and raises nothing."""

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import ColumnElement, Table, delete, exists, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, Invalid, NotFound
from app.events.dispatch import raise_event
from app.events.types import ContactLabelsChanged, ConversationLabelsChanged
from app.labels.models import Label, contact_labels, conversation_labels
from app.labels.schemas import LabelCreate, LabelUpdate

Target = Literal["conversation", "contact"]

_LINKS: dict[Target, tuple[Table, str]] = {
    "conversation": (conversation_labels, "conversation_id"),
    "contact": (contact_labels, "contact_id"),
}


# ---------------------------------------------------------------- the catalogue


async def list_labels(session: AsyncSession) -> list[Label]:
    return list((await session.scalars(select(Label).order_by(func.lower(Label.name)))).all())


async def get_label(session: AsyncSession, label_id: int) -> Label:
    label = await session.get(Label, label_id)
    if label is None:
        raise NotFound(f"Label {label_id} not found")
    return label


async def _flush_unique(session: AsyncSession, name: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A label {name!r} already exists", "label_exists") from exc


async def create_label(session: AsyncSession, data: LabelCreate) -> Label:
    label = Label(name=data.name, colour=data.colour.lower(), description=data.description)
    session.add(label)
    await _flush_unique(session, data.name)
    await session.refresh(label)
    return label


async def update_label(
    session: AsyncSession, label_id: int, data: LabelUpdate
) -> tuple[Label, dict[str, Any]]:
    label = await get_label(session, label_id)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("name") is None:
        changes.pop("name", None)
    if changes.get("colour") is None:
        changes.pop("colour", None)
    else:
        changes["colour"] = changes["colour"].lower()
    for key, value in changes.items():
        setattr(label, key, value)
    await _flush_unique(session, label.name)
    return label, changes


async def delete_label(session: AsyncSession, label_id: int) -> Label:
    """Deletes it and takes it off every conversation and contact (the links cascade)."""
    label = await get_label(session, label_id)
    await session.delete(label)
    await session.flush()
    return label


async def _resolve(session: AsyncSession, names: Sequence[str]) -> dict[str, Label]:
    """The labels `names` mean, by lower-cased name; an unknown one is a 422 naming it."""
    wanted = {n.strip().lower() for n in names}
    if not wanted:
        return {}
    rows = await session.scalars(select(Label).where(func.lower(Label.name).in_(sorted(wanted))))
    found = {label.name.lower(): label for label in rows.all()}
    unknown = sorted(n for n in names if n.strip().lower() not in found)
    if unknown:
        raise Invalid(
            f"Unknown label {unknown[0]!r}: an admin creates labels first",
            "unknown_label",
            details={"unknown": unknown},
        )
    return found


# ---------------------------------------------------------------- reading a row's labels


def names_column(target: Target, owner_id: Any) -> Any:
    """A correlated subquery: the label names of the row whose id is `owner_id` (a column),
    alphabetical, as an array (NULL when there are none)."""
    link, key = _LINKS[target]
    return (
        select(func.array_agg(aggregate_order_by(Label.name, func.lower(Label.name))))
        .select_from(link.join(Label, Label.id == link.c.label_id))
        .where(link.c[key] == owner_id)
        .scalar_subquery()
    )


def carries(target: Target, owner_id: Any, name: str) -> ColumnElement[bool]:
    """WHERE clause: the row whose id is `owner_id` carries the label `name` (any case)."""
    link, key = _LINKS[target]
    return exists().where(
        link.c[key] == owner_id,
        link.c.label_id == Label.id,
        func.lower(Label.name) == name.strip().lower(),
    )


async def names_of(session: AsyncSession, target: Target, owner_id: int) -> list[str]:
    return (await names_for(session, target, [owner_id])).get(owner_id, [])


async def names_for(
    session: AsyncSession, target: Target, owner_ids: Sequence[int]
) -> dict[int, list[str]]:
    """Each row's label names, alphabetical (rows with none are absent)."""
    if not owner_ids:
        return {}
    link, key = _LINKS[target]
    rows = await session.execute(
        select(link.c[key], Label.name)
        .join(Label, Label.id == link.c.label_id)
        .where(link.c[key].in_(sorted(set(owner_ids))))
        .order_by(func.lower(Label.name))
    )
    out: dict[int, list[str]] = {}
    for owner, name in rows.all():
        out.setdefault(owner, []).append(name)
    return out


# ---------------------------------------------------------------- labelling


async def _changed(
    session: AsyncSession,
    target: Target,
    owner_id: int,
    added: list[str],
    removed: list[str],
    by: int | None,
) -> None:
    if not added and not removed:
        return
    put, took = tuple(sorted(added)), tuple(sorted(removed))
    if target == "conversation":
        await raise_event(
            session,
            ConversationLabelsChanged(conversation_id=owner_id, added=put, removed=took, by=by),
        )
    else:
        await raise_event(
            session, ContactLabelsChanged(contact_id=owner_id, added=put, removed=took, by=by)
        )


async def _link(
    session: AsyncSession, target: Target, owner_id: int, labels: list[Label]
) -> list[str]:
    """Puts the labels on; returns the names of those that were not on yet."""
    if not labels:
        return []
    link, key = _LINKS[target]
    inserted = await session.execute(
        insert(link)
        .values([{key: owner_id, "label_id": label.id} for label in labels])
        .on_conflict_do_nothing()
        .returning(link.c.label_id)
    )
    new = set(inserted.scalars().all())
    return [label.name for label in labels if label.id in new]


async def _unlink(
    session: AsyncSession, target: Target, owner_id: int, labels: list[Label]
) -> list[str]:
    """Takes the labels off; returns the names of those that were on."""
    if not labels:
        return []
    link, key = _LINKS[target]
    deleted = await session.execute(
        delete(link)
        .where(link.c[key] == owner_id, link.c.label_id.in_([label.id for label in labels]))
        .returning(link.c.label_id)
    )
    gone = set(deleted.scalars().all())
    return [label.name for label in labels if label.id in gone]


async def add_label(
    session: AsyncSession, target: Target, owner_id: int, name: str, *, by: int | None = None
) -> bool:
    """Puts the label `name` (any case) on the row; False if it was on already. The service
    function an automation's "add label" action calls."""
    labels = list((await _resolve(session, [name])).values())
    added = await _link(session, target, owner_id, labels)
    await _changed(session, target, owner_id, added, [], by)
    return bool(added)


async def remove_label(
    session: AsyncSession, target: Target, owner_id: int, name: str, *, by: int | None = None
) -> bool:
    """Takes the label `name` off the row; False if it was not on (an unknown name is 422)."""
    labels = list((await _resolve(session, [name])).values())
    removed = await _unlink(session, target, owner_id, labels)
    await _changed(session, target, owner_id, [], removed, by)
    return bool(removed)


async def set_labels(
    session: AsyncSession,
    target: Target,
    owner_id: int,
    names: Sequence[str],
    *,
    by: int | None = None,
) -> list[str]:
    """Makes the row carry exactly `names` (Chatwoot's POST .../labels); returns them as
    spelt now. Unknown names are refused before anything changes."""
    wanted = await _resolve(session, names)
    link, key = _LINKS[target]
    current_ids = set(
        (await session.scalars(select(link.c.label_id).where(link.c[key] == owner_id))).all()
    )
    wanted_ids = {label.id for label in wanted.values()}
    gone = list(
        (await session.scalars(select(Label).where(Label.id.in_(current_ids - wanted_ids)))).all()
    )
    added = await _link(
        session,
        target,
        owner_id,
        [label for label in wanted.values() if label.id not in current_ids],
    )
    removed = await _unlink(session, target, owner_id, gone)
    await _changed(session, target, owner_id, added, removed, by)
    return await names_of(session, target, owner_id)
