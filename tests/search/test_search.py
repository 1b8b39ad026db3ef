"""GET /api/v1/search against real PostgreSQL: phones in any spelling, Russian word forms,
partial words and numbers, escaped highlighted snippets, stable paging, team visibility."""

import re
from typing import Any

import pytest

from tests.conftest import Running
from tests.helpers import auth
from tests.search.conftest import World, add_conversation


async def _search(run: Running, token: str, **params: Any) -> Any:
    r = await run.client.get("/api/v1/search", params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(
    "typed", ["+7 916 123-45-67", "8 (916) 123-45-67", "79161234567", "916 123 45", "123-45-67"]
)
async def test_every_spelling_of_a_phone_finds_the_contact(
    run: Running, world: World, typed: str
) -> None:
    found = await add_conversation(run, world, team=world.sales, name="Ivan", phone="8 916 1234567")
    await add_conversation(run, world, team=world.sales, name="Other", phone="+7 903 765-43-21")
    got = await _search(run, world.admin, q=typed)
    assert [c["id"] for c in got["contacts"]["items"]] == [found["contact"]]
    assert got["contacts"]["items"][0]["conversation_id"] == found["conversation"]
    assert [c["id"] for c in got["conversations"]["items"]] == [found["conversation"]]


async def test_contacts_by_name_email_and_identifier(run: Running, world: World) -> None:
    found = await add_conversation(
        run,
        world,
        team=world.sales,
        name="Мария Петрова",
        email="maria@shop.ru",
        external_id="tg-55501234",
    )
    await add_conversation(run, world, team=world.sales, name="Someone")
    for typed in ("петров", "MARIA@shop", "55501234"):
        got = await _search(run, world.admin, q=typed, type="contacts")
        assert [c["id"] for c in got["contacts"]["items"]] == [found["contact"]], typed
        assert got["messages"] is None


async def test_a_russian_word_form_finds_the_message(run: Running, world: World) -> None:
    hit = await add_conversation(
        run, world, team=world.sales, name="A", messages=("Когда будет доставка заказа?",)
    )
    await add_conversation(run, world, team=world.sales, name="B", messages=("Спасибо",))
    got = await _search(run, world.admin, q="доставки", type="messages")
    items = got["messages"]["items"]
    assert [m["id"] for m in items] == hit["messages"]
    assert "<mark>доставка</mark>" in items[0]["snippet_html"]
    english = await _search(run, world.admin, q="orders", type="messages")
    assert english["messages"]["items"] == []
    await add_conversation(run, world, team=world.sales, name="C", messages=("Where is my order",))
    english = await _search(run, world.admin, q="orders", type="messages")
    assert "<mark>order</mark>" in english["messages"]["items"][0]["snippet_html"]


async def test_partial_words_and_numbers_match_by_trigram(run: Running, world: World) -> None:
    hit = await add_conversation(
        run, world, team=world.sales, name="A", messages=("Номер заказа RU-778812345, трекинг",)
    )
    for typed in ("8812", "трекин"):
        got = await _search(run, world.admin, q=typed, type="messages")
        items = got["messages"]["items"]
        assert [m["id"] for m in items] == hit["messages"], typed
        assert f"<mark>{typed}</mark>" in items[0]["snippet_html"]


async def test_snippets_are_escaped(run: Running, world: World) -> None:
    await add_conversation(
        run,
        world,
        team=world.sales,
        name="<b>x</b>",
        messages=('<script>alert(1)</script> доставка <img src=x onerror="y">',),
    )
    for typed in ("доставка", "alert"):
        got = await _search(run, world.admin, q=typed, type="messages")
        snippet = got["messages"]["items"][0]["snippet_html"]
        # No markup but our own: tags are either escaped or left out.
        assert "<" not in re.sub("</?mark>", "", snippet), snippet
        assert snippet.count("<mark>") == snippet.count("</mark>") >= 1
    assert "&lt;script&gt;<mark>alert</mark>" in snippet  # the substring match keeps the text


async def test_paging_is_stable(run: Running, world: World) -> None:
    ids = []
    for i in range(7):
        made = await add_conversation(
            run, world, team=world.sales, name=f"Client {i}", messages=(f"доставка номер {i}",)
        )
        ids += made["messages"]
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "доставка", "type": "messages", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        got = (await _search(run, world.admin, **params))["messages"]
        seen += [m["id"] for m in got["items"]]
        # A message arriving while one pages does not shift the pages.
        await add_conversation(run, world, team=world.sales, name="new", messages=("доставка",))
        cursor = got["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)

    contacts: list[int] = []
    cursor = None
    while True:
        params = {"q": "Client", "type": "contacts", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        got = (await _search(run, world.admin, **params))["contacts"]
        contacts += [c["id"] for c in got["items"]]
        cursor = got["next_cursor"]
        if cursor is None:
            break
    assert len(contacts) == len(set(contacts)) == 7


async def test_another_teams_operator_finds_nothing_of_theirs(run: Running, world: World) -> None:
    mine = await add_conversation(
        run,
        world,
        team=world.sales,
        name="Sales Client",
        phone="+79161112233",
        messages=("секретная доставка",),
    )
    for token, expected in ((world.sales_operator, 1), (world.support_operator, 0)):
        for typed in ("Sales Client", "+7 916 111-22-33", "доставки", "секретн"):
            got = await _search(run, token, q=typed)
            total = sum(len(got[g]["items"]) for g in ("contacts", "conversations", "messages"))
            assert (total > 0) is bool(expected), (typed, got)
    got = await _search(run, world.sales_operator, q="доставка", type="messages")
    assert [m["id"] for m in got["messages"]["items"]] == mine["messages"]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"q": "   "}, "empty_query"),
        ({"q": "x" * 201}, None),
        ({"q": "x", "cursor": "5"}, "cursor_needs_type"),
        ({"q": "x", "type": "messages", "cursor": "nope"}, "invalid_cursor"),
    ],
)
async def test_bad_queries_are_refused(
    run: Running, world: World, params: dict[str, Any], code: str | None
) -> None:
    r = await run.client.get("/api/v1/search", params=params, headers=auth(world.admin))
    assert r.status_code == 422, r.text
    if code is not None:
        assert r.json()["error"]["code"] == code, r.text
