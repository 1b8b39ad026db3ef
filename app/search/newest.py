"""A page of matches newest first (by id) without walking the whole table.

Left alone, the planner answers "the 20 newest rows that match" by walking the primary key
backwards and testing every row: instant for a common word, seconds for a rare one deep in
the past (a phrase or an order number calls to_tsvector / a regexp on hundreds of thousands of
rows). So two steps: the newest `window` ids are tested row by row (few rows, cheap whatever
the word), and only if they hold less than a page are the older rows found through the
match's own indexes: `id + 0` hides the primary key from the planner, so it reads the GIN
(trigram, full-text) indexes and sorts the few hits. A term common enough to fill a page from
the window never reaches the second step; one that does not is rare, so its index lookup is
small."""

from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute


async def newest_first(
    session: AsyncSession,
    page: Select[Any],
    id_column: InstrumentedAttribute[int],
    match: ColumnElement[bool],
    *,
    indexed_match: ColumnElement[bool] | None = None,
    before: int | None,
    limit: int,
    window: int,
) -> list[Any]:
    """The rows of `page` (a select with no order or limit) that `match`, with id < before
    (all when None), highest id first, at most `limit`. `indexed_match` says the same as
    `match` in a form the indexes serve (an id set), where the row form would not."""
    top = before
    if top is None:
        highest = await session.scalar(select(func.max(id_column)))
        if highest is None:
            return []
        top = highest + 1
    edge = top - window
    recent = page.where(match, id_column < top, id_column >= edge).order_by(id_column.desc())
    rows = list((await session.execute(recent.limit(limit))).all())
    if len(rows) < limit and edge > 1:
        older = page.where(indexed_match if indexed_match is not None else match)
        older = older.where(id_column + 0 < edge).order_by((id_column + 0).desc())
        rows += (await session.execute(older.limit(limit - len(rows)))).all()
    return rows
