"""The console's and the widget's message catalogues: every string the static JS/HTML wraps
in _() / ngettext() / data-i18n has a Russian translation with the same {placeholders}, so
no feature ships half in English. Fix a failure with `python -m app.console.catalogues
update`, then translate the new entries in app/console/locales/ru/LC_MESSAGES/*.po."""

import io
from typing import get_args

import pytest
from babel.messages.pofile import read_po

from app.console import catalogues
from app.console.i18n import DOMAINS, LANGUAGES, catalogue_json, pick_language, po_path
from app.operators.schemas import ConsoleLanguage
from tests.conftest import Running, create_operator


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_string_has_a_russian_translation(domain: str) -> None:
    problems = catalogues.missing(domain, "ru")
    assert not problems, "\n".join(problems)


def test_the_check_finds_an_untranslated_string(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The check itself can fail: a new _() call in a console module is reported.
    static = tmp_path / "static"
    static.mkdir()
    for p in catalogues.sources("console"):
        (static / p.name).write_bytes(p.read_bytes())
    (static / "newfeature.js").write_text(
        'el.textContent = _("A brand new {thing}", { thing });\n'
        'el.title = _("{who} said", { who: name || _("Somebody") });\n'
    )
    monkeypatch.setattr(catalogues, "STATIC", static)
    problems = catalogues.missing("console", "ru")
    assert problems == [
        "static/newfeature.js: 'Somebody' is not extracted (a _() inside another _()'s"
        " arguments? compute it first)",
        "ru/console.po: no translation of 'A brand new {thing}'",
        "ru/console.po: no translation of '{who} said'",
    ]


def test_placeholders_must_match(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with po_path("console", "ru").open("rb") as f:
        catalog = read_po(f, locale="ru")
    translated = next(m for m in catalog if m.id and "{" in str(m.id))
    translated.string = ("без подстановки",) * 3 if translated.pluralizable else "без подстановки"
    monkeypatch.setattr(catalogues, "read_catalogue", lambda domain, lang: catalog)
    assert any("placeholders" in p for p in catalogues.missing("console", "ru"))


def test_the_html_extractor_reads_text_and_attributes() -> None:
    page = b"<p data-i18n>\n  Hello   there </p>"
    page += b'<input data-i18n-attrs="placeholder" placeholder="Find">'
    found = list(catalogues.extract_html(io.BytesIO(page), None, None, None))
    assert sorted(m[2] for m in found) == ["Find", "Hello there"]


def test_russian_plurals_map_cldr_categories_to_po_forms() -> None:
    got = catalogue_json("console", "ru")
    assert got["plural"] == {"many": 2, "one": 0, "few": 1, "other": 2}
    assert any(isinstance(v, list) and len(v) == 3 for v in got["messages"].values())


def test_pick_language() -> None:
    assert pick_language("ru") == "ru"
    assert pick_language(None, "ru-RU,ru;q=0.9,en;q=0.8") == "ru"
    assert pick_language("de", "de-DE, en;q=0.5") == "en"
    assert pick_language(None, None) == "en"


async def test_the_catalogue_is_served_as_json(run: Running) -> None:
    r = await run.client.get("/console/i18n/console/ru.json")
    assert r.status_code == 200
    body = r.json()
    assert body["lang"] == "ru"
    assert body["messages"]["Sign in to the console"] == "Вход в консоль"
    assert (await run.client.get("/console/i18n/console/de.json")).status_code == 404
    assert (await run.client.get("/console/i18n/secrets/ru.json")).status_code == 404


def test_the_operator_schema_knows_every_console_language() -> None:
    assert set(get_args(ConsoleLanguage)) == set(LANGUAGES)


async def test_an_operator_saves_their_language(run: Running) -> None:
    token = await create_operator(run, "lang@example.com", "operator")
    headers = {"Authorization": f"Bearer {token}"}
    me = (await run.client.get("/api/v1/operators/me", headers=headers)).json()
    assert me["language"] is None
    r = await run.client.patch("/api/v1/operators/me", json={"language": "ru"}, headers=headers)
    assert r.status_code == 200 and r.json()["language"] == "ru"
    me = (await run.client.get("/api/v1/operators/me", headers=headers)).json()
    assert me["language"] == "ru"
    r = await run.client.patch("/api/v1/operators/me", json={"language": "de"}, headers=headers)
    assert r.status_code == 422
    r = await run.client.patch("/api/v1/operators/me", json={"language": None}, headers=headers)
    assert r.json()["language"] is None
