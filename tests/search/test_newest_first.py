"""The two-step newest-first page (app/search/newest.py) returns exactly what the plain
"ORDER BY id DESC LIMIT n" returns, whatever the window: the window only changes how the rows
are found. Small windows force the second step (the indexes) that the API's own window
reaches only on large inboxes."""

import pytest
from sqlalchemy import select

from app.inbox.models import Message
from app.search.newest import newest_first
from tests.conftest import Running
from tests.search.conftest import World, add_conversation

TEXTS = tuple("delivery late" if i % 7 in (0, 3) else f"thanks {i}" for i in range(40))


@pytest.mark.parametrize("window", [1, 2, 5, 13, 1000])
async def test_the_page_is_the_plain_query_for_any_window(
    run: Running, world: World, window: int
) -> None:
    await add_conversation(run, world, team=world.sales, name="A", messages=TEXTS)
    match = Message.text.ilike("%delivery%")
    page = select(Message.id)
    async with run.ctx.sessions() as session:
        expected = list(
            (await session.scalars(page.where(match).order_by(Message.id.desc()))).all()
        )
        assert len(expected) == 12
        for before in (None, expected[3], expected[-1] + 1, expected[-1]):
            for limit in (1, 4, 50):
                rows = await newest_first(
                    session, page, Message.id, match, before=before, limit=limit, window=window
                )
                wanted = [i for i in expected if before is None or i < before][:limit]
                assert [r.id for r in rows] == wanted, (before, limit)
