"""The widget's texts per channel and language: set in the channel's settings (validated),
served with the widget's catalogue by GET /widget/v1/<key>/config in the visitor's language."""

from typing import get_args

from app.console.i18n import LANGUAGES
from app.webchat.plugin import WidgetLanguage
from tests.conftest import Running
from tests.helpers import auth, create_webchat

TEXTS = {
    "ru": {"title": "Магазин Ромашка", "greeting": "Добрый день! Чем помочь?"},
    "en": {"title": "Daisy shop", "placeholder": "Ask about your order…"},
}


def test_the_widget_languages_are_the_consoles() -> None:
    assert set(get_args(WidgetLanguage)) == set(LANGUAGES)


async def test_texts_per_language_and_the_catalogue(run: Running) -> None:
    admin = await run.admin_token()
    channel = await create_webchat(run.client, admin, texts=TEXTS)
    config = f"/widget/v1/{channel['public_key']}/config"

    ru = (await run.client.get(config, params={"lang": "ru"})).json()
    assert ru["lang"] == "ru"
    assert ru["texts"]["title"] == "Магазин Ромашка"
    assert ru["texts"]["placeholder"] is None  # the widget shows its translated default
    assert ru["messages"]["Write a message…"] == "Напишите сообщение…"
    assert len(ru["messages"]["Open chat ({n} new)"]) == 3

    en = (await run.client.get(config, params={"lang": "en-GB"})).json()
    assert en["lang"] == "en" and en["messages"] == {}
    assert en["texts"]["placeholder"] == "Ask about your order…"

    # No lang: the browser's Accept-Language; an unknown one: English.
    r = await run.client.get(config, headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    assert r.json()["lang"] == "ru"
    r = await run.client.get(config, params={"lang": "de"}, headers={"Accept-Language": "fr"})
    assert r.json()["lang"] == "en"


async def test_bad_texts_are_refused_with_a_reason(run: Running) -> None:
    admin = await run.admin_token()
    channel = await create_webchat(run.client, admin)
    url = f"/api/v1/channels/{channel['id']}"
    for texts, where in (
        ({"de": {"title": "Hallo"}}, "settings.texts.de"),
        ({"ru": {"title": "x" * 81}}, "settings.texts.ru.title"),
        ({"ru": {"titel": "Опечатка"}}, "settings.texts.ru.titel"),
        ({"ru": {"title": ""}}, "settings.texts.ru.title"),
    ):
        r = await run.client.patch(url, json={"settings": {"texts": texts}}, headers=auth(admin))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["message"].startswith(where), r.json()
    r = await run.client.patch(url, json={"settings": {"texts": TEXTS}}, headers=auth(admin))
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["texts"]["ru"] == TEXTS["ru"]
