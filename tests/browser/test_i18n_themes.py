"""Languages, themes, the phone layout and keyboard shortcuts in a real Chromium.

The console follows the browser's language (ru-RU -> Russian) unless the operator saved one;
the widget follows the visitor's browser or the embed's data-lang and shows its channel's
own texts; the dark theme follows prefers-color-scheme, and axe-core finds no text under
4.5:1 in either theme. Screenshots go to artifacts/screenshots/."""

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import PHONE, Served
from tests.conftest import ROOT, Running, create_operator
from tests.helpers import auth, create_webchat, visitor_post, visitor_session

PASSWORD = "ochre-82-jy"  # create_operator's
AXE = ROOT / "tests" / "browser" / "vendor" / "axe-core" / "axe.min.js"
VIEW = {"width": 1280, "height": 760}
TEXTS = {
    "ru": {"title": "Магазин Ромашка", "greeting": "Добрый день! Чем помочь?"},
    "en": {"title": "Daisy shop", "placeholder": "Ask about your order…"},
}


class World:
    def __init__(self, served: Served, admin: str, key: str) -> None:
        self.served, self.admin, self.key = served, admin, key


async def make_world(served: Served, chats: int = 2) -> World:
    """An admin (Alex Morgan), a widget with texts in both languages, `chats` visitors who wrote."""
    run = Running(app=served.app, ctx=served.ctx, client=served.client)
    admin = await create_operator(run, "admin@example.com", "admin")
    me = (await served.client.get("/api/v1/operators/me", headers=auth(admin))).json()
    await served.client.patch(
        f"/api/v1/operators/{me['id']}", json={"name": "Alex Morgan"}, headers=auth(admin)
    )
    channel = await create_webchat(served.client, admin, texts=TEXTS)
    key = channel["public_key"]
    for i in range(chats):
        session = await visitor_session(
            served.client, key, name=["Анна Смирнова", "Борис Петров"][i % 2]
        )
        r = await visitor_post(served.client, key, session["visitor_token"], f"Здравствуйте {i}")
        assert r.status_code == 201, r.text
    return World(served, admin, key)


async def console(
    browser: Browser, world: World, **context: Any
) -> tuple[BrowserContext, Page, list[str]]:
    """Signs in as the admin (by field ids: the labels are in either language)."""
    ctx = await browser.new_context(**({"viewport": VIEW} | context))
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(world.served.base_url + "/")
    await expect(page.locator("#login-email")).to_be_focused()
    await page.locator("#login-email").fill("admin@example.com")
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "live")
    await page.locator('.filter[data-filter="all"]').click()
    await expect(page.locator("#conv-list .conv")).not_to_have_count(0)
    return ctx, page, errors


async def open_first(page: Page) -> None:
    await page.locator("#conv-list .conv").first.click()
    await expect(page.locator("#thread-body")).to_be_visible()
    await expect(page.locator(".msg-in").first).to_be_visible()


async def test_console_in_russian_and_english(
    browser: Browser, served: Served, screenshots: Path
) -> None:
    world = await make_world(served)
    ctx, page, errors = await console(browser, world, locale="ru-RU")
    assert await page.evaluate("document.documentElement.lang") == "ru"
    await expect(page.locator('.filter[data-filter="all"]')).to_have_text("Все")
    await expect(page.locator("#search-q")).to_have_attribute(
        "placeholder", "Поиск по контактам, диалогам, сообщениям"
    )
    # Russian plurals: 1 -> "непрочитанное", and the short waiting time in Russian.
    await expect(page.locator(".unread").first).to_have_attribute("aria-label", "1 непрочитанное")
    await open_first(page)
    await expect(page.locator("#status-btn")).to_have_text("Решить")
    await expect(page.locator("#thread-meta")).to_contain_text("Ждёт")
    await expect(page.locator("#contact-body")).to_contain_text("Клиент с")
    await page.screenshot(path=str(screenshots / "console-ru.png"))
    assert errors == []
    await ctx.close()

    ctx, page, errors = await console(browser, world, locale="en-US")
    assert await page.evaluate("document.documentElement.lang") == "en"
    await expect(page.locator('.filter[data-filter="all"]')).to_have_text("All")
    await open_first(page)
    await expect(page.locator("#status-btn")).to_have_text("Resolve")
    await expect(page.locator("#contact-body")).to_contain_text("Client since")
    await page.screenshot(path=str(screenshots / "console-en.png"))
    assert errors == []
    await ctx.close()


async def test_the_saved_language_wins_over_the_browsers(browser: Browser, served: Served) -> None:
    world = await make_world(served, chats=1)
    r = await served.client.patch(
        "/api/v1/operators/me", json={"language": "ru"}, headers=auth(world.admin)
    )
    assert r.status_code == 200, r.text
    ctx, page, errors = await console(browser, world, locale="en-US")
    # The login page was English (the browser's); signed in, the console is Russian.
    await expect(page.locator("html")).to_have_attribute("lang", "ru")
    await expect(page.locator('.filter[data-filter="mine"]')).to_have_text("Мои")
    await expect(page.locator("#lang-select")).to_have_value("ru")

    # Choosing English saves it and re-renders the page in English.
    await page.locator("#lang-select").select_option("en")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator('.filter[data-filter="mine"]')).to_have_text("Mine")
    me = (await served.client.get("/api/v1/operators/me", headers=auth(world.admin))).json()
    assert me["language"] == "en"
    assert errors == []
    await ctx.close()


async def widget(browser: Browser, world: World, query: str = "", **context: Any) -> Page:
    ctx = await browser.new_context(**({"viewport": VIEW} | context))
    page = await ctx.new_page()
    await page.goto(f"{world.served.base_url}/widget/demo?key={world.key}{query}")
    await page.locator("[data-chatcentre-widget]").locator(".launcher").click()
    return page


async def test_the_widget_in_both_languages_with_the_channels_texts(
    browser: Browser, served: Served, screenshots: Path
) -> None:
    world = await make_world(served, chats=0)

    ru = await widget(browser, world, locale="ru-RU")
    await expect(ru.locator("#cc-title")).to_have_text("Магазин Ромашка")  # the channel's
    await expect(ru.locator(".hello")).to_have_text("Добрый день! Чем помочь?")
    # No Russian placeholder of its own: the widget's translated default.
    await expect(ru.locator("#cc-input")).to_have_attribute("placeholder", "Напишите сообщение…")
    await expect(ru.get_by_role("button", name="Закрыть чат")).to_be_visible()
    await ru.screenshot(path=str(screenshots / "widget-ru.png"))

    en = await widget(browser, world, locale="en-US")
    await expect(en.locator("#cc-title")).to_have_text("Daisy shop")
    await expect(en.locator("#cc-input")).to_have_attribute("placeholder", "Ask about your order…")
    await expect(en.locator(".hello")).to_have_text("Hi! Ask us anything: we are here to help.")
    await en.screenshot(path=str(screenshots / "widget-en.png"))

    # The embed's data-lang wins over the browser's language.
    forced = await widget(browser, world, "&lang=ru", locale="en-US")
    await expect(forced.locator("#cc-title")).to_have_text("Магазин Ромашка")


async def run_axe(page: Page) -> list[dict[str, Any]]:
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        """async () => {
            const only = { type: "rule", values: ["color-contrast"] };
            const r = await axe.run(document, { runOnly: only });
            return r.violations.flatMap((v) => v.nodes.map((n) => ({
                target: n.target.join(" "), summary: n.failureSummary })));
        }"""
    )
    return list(result)


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_contrast_in_both_themes(
    browser: Browser, served: Served, screenshots: Path, scheme: str
) -> None:
    world = await make_world(served)
    # bypass_csp: axe is injected as a script the page's CSP would refuse.
    ctx = await browser.new_context(viewport=VIEW, color_scheme=scheme, bypass_csp=True)
    page = await ctx.new_page()
    await page.goto(world.served.base_url + "/")
    await expect(page.locator("#login-email")).to_be_focused()
    assert await run_axe(page) == [], "login page"
    await page.locator("#login-email").fill("admin@example.com")
    await page.locator("#login-password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "live")
    await page.locator('.filter[data-filter="all"]').click()
    await open_first(page)
    # A reply and a private note, so both bubble kinds are checked.
    await page.locator("#composer-text").fill("Добрый день! Сейчас проверю.")
    await page.locator("#composer-text").press("Enter")
    await page.locator('.composer-tabs .tab[data-mode="note"]').click()
    await page.locator("#composer-text").fill("Клиент из Москвы")
    await page.locator("#composer-text").press("Enter")
    await expect(page.locator(".msg-note")).to_be_visible()
    await expect(page.locator("#contact-body .facts")).to_be_visible()
    bg = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert (bg == "rgb(15, 19, 32)") == (scheme == "dark"), bg
    violations = await run_axe(page)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
    await page.screenshot(path=str(screenshots / f"console-{scheme}.png"))
    await page.keyboard.press("Escape")
    await page.locator("body").click(position={"x": 5, "y": 700})
    await page.keyboard.press("?")
    await expect(page.locator("#shortcuts-help")).to_be_visible()
    assert await run_axe(page) == [], "shortcuts list"
    await ctx.close()


async def test_phone_layout_at_390px(browser: Browser, served: Served, screenshots: Path) -> None:
    world = await make_world(served)
    ctx, page, errors = await console(browser, world, **PHONE)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await open_first(page)
    await expect(page.locator(".sidebar")).to_be_hidden()  # one screen at a time
    await page.locator("#contact-toggle").click()
    await expect(page.locator("#contact")).to_be_visible()
    await page.screenshot(path=str(screenshots / "phone-contact-open.png"))
    await page.locator("#contact-close").click()
    await expect(page.locator("#contact")).to_be_hidden()
    await expect(page.locator("#contact-toggle")).to_have_attribute("aria-expanded", "false")

    await page.locator("#back").click()
    await expect(page.locator("#conv-list")).to_be_visible()
    await expect(page.locator("#contact")).to_be_hidden()
    # A drawer left open never covers the list (phone.css), whatever brought the list back.
    await page.evaluate(
        "(() => { const p = document.querySelector('.panes');"
        " p.dataset.contact = 'open'; p.dataset.mobile = 'list'; })()"
    )
    await expect(page.locator("#contact")).to_be_hidden()
    await page.locator("#conv-list .conv").nth(1).click()  # the list is usable
    await expect(page.locator("#thread-body")).to_be_visible()
    await page.locator("#back").click()
    await page.screenshot(path=str(screenshots / "phone-list.png"))
    assert errors == []
    await ctx.close()


async def test_keyboard_shortcuts(browser: Browser, served: Served, screenshots: Path) -> None:
    world = await make_world(served)
    ctx, page, errors = await console(browser, world, locale="en-US")
    convs = page.locator("#conv-list .conv")
    current = page.locator('#conv-list .conv[aria-current="true"]')

    async def away_from_fields() -> None:
        await page.evaluate("document.activeElement && document.activeElement.blur()")

    async def switch(key: str, index: int) -> None:
        await away_from_fields()
        await page.keyboard.press(key)
        await expect(current).to_have_attribute(
            "data-id", await convs.nth(index).get_attribute("data-id")
        )
        # Opening a conversation ends by focusing the reply box: wait for it, then leave it.
        await expect(page.locator("#composer-text")).to_be_focused()

    await switch("j", 0)
    await switch("j", 1)
    await switch("Alt+ArrowUp", 0)

    await away_from_fields()
    await page.keyboard.press("n")
    await expect(page.locator("#composer")).to_have_attribute("data-mode", "note")
    await expect(page.locator("#composer-text")).to_be_focused()
    await page.keyboard.type("jk")  # typed into the note, not taken as shortcuts
    await expect(page.locator("#composer-text")).to_have_value("jk")
    await away_from_fields()
    await page.keyboard.press("r")
    await expect(page.locator("#composer")).to_have_attribute("data-mode", "reply")

    await away_from_fields()
    await page.keyboard.press("e")
    await expect(page.locator("#status-btn")).to_have_text("Reopen")

    await away_from_fields()
    await page.keyboard.press("/")
    await expect(page.locator("#search-q")).to_be_focused()

    await away_from_fields()
    await page.keyboard.press("?")
    help_list = page.locator("#shortcuts-help")
    await expect(help_list).to_be_visible()
    await expect(help_list).to_contain_text("Next conversation")
    await expect(help_list).to_contain_text("Resolve or reopen")
    await page.screenshot(path=str(screenshots / "shortcuts.png"))
    await page.keyboard.press("Escape")
    await expect(help_list).to_be_hidden()
    assert errors == []
    await ctx.close()
