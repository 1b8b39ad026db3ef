"""The agent bots section of the webhooks page in Chromium: an admin adds a bot on a channel
(its token and secret shown once), gets a new token, turns it off, in English and Russian."""

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import Served
from tests.browser.test_console_and_widget import log_in
from tests.conftest import Running, create_operator
from tests.helpers import create_webchat
from tests.webhooks.receiver import eventually
from tests.webhooks.test_delivery import FAST


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return FAST


async def test_bots_section(browser: Browser, served: Served, screenshots: Path) -> None:
    run = Running(app=served.app, ctx=served.ctx, client=served.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    channel = await create_webchat(served.client, admin)
    ctx, page = await log_in(browser, served)
    await page.get_by_role("link", name="Webhooks").click()
    await expect(page.locator("body")).to_have_attribute("data-bots", "0")

    await page.get_by_label("Bot name").fill("Helper")
    await page.get_by_label("Bot URL").fill("http://127.0.0.1:9/bot")
    await page.get_by_label("Channel ids").fill(str(channel["id"]))
    await page.get_by_role("button", name="Create bot").click()
    await expect(page.locator("#bot-token")).to_have_text(re.compile(r"^ccbot_"))
    await expect(page.locator("#bot-secret")).to_have_text(re.compile(r"^whsec_"))
    first = await page.locator("#bot-token").text_content()
    row = page.locator("#bots tbody tr")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Helper")
    await expect(row).to_contain_text(str(channel["id"]))
    await page.screenshot(path=str(screenshots / "agent-bots.png"))

    await page.get_by_role("button", name="New token").click()
    await expect(page.locator("#bot-token")).not_to_have_text(first or "")
    await page.get_by_role("checkbox", name="Bot active").uncheck()

    async def turned_off() -> bool:
        r = await served.client.get(
            "/api/v1/agent-bots", headers={"Authorization": f"Bearer {admin}"}
        )
        return r.json()[0]["is_active"] is False

    await eventually(turned_off)
    await page.reload()
    await expect(page.locator("#bot-secret-box")).to_be_hidden()  # shown once
    await page.locator("#lang").select_option("ru")
    await expect(page.get_by_role("heading", name="Боты-агенты")).to_be_visible()
    await expect(page.get_by_role("button", name="Новый токен")).to_be_visible()
    await page.screenshot(path=str(screenshots / "agent-bots-ru.png"))
    assert page.errors == []  # type: ignore[attr-defined]
    await ctx.close()
