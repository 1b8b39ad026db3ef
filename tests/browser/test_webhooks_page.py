"""The webhooks page in Chromium: an admin adds an endpoint (its secret shown once), picks
events, turns it off and on, sees its deliveries and redelivers one, in English and Russian.
A real receiver on 127.0.0.1 takes the deliveries."""

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import text

from app.webhooks.events import SUBSCRIBABLE
from tests.browser.conftest import Served
from tests.browser.test_console_and_widget import log_in
from tests.conftest import Running, create_operator
from tests.helpers import create_webchat, visitor_post, visitor_session
from tests.webhooks.receiver import eventually, receiver
from tests.webhooks.test_delivery import FAST


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return FAST


async def test_webhooks_page(browser: Browser, served: Served, screenshots: Path) -> None:
    run = Running(app=served.app, ctx=served.ctx, client=served.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    ctx, page = await log_in(browser, served)
    await page.get_by_role("link", name="Webhooks").click()
    await expect(page.locator("body")).to_have_attribute("data-ready", "webhooks")
    # The checkboxes are the server's list (GET /api/v1/webhooks/events).
    boxes = page.locator("#events input[name=events]")
    assert [await b.get_attribute("value") for b in await boxes.all()] == list(SUBSCRIBABLE)

    async with receiver() as rec:
        await page.get_by_label("URL", exact=True).fill(f"{rec.base_url}/ok")
        await page.get_by_label("message.created").check()
        await page.get_by_role("button", name="Create", exact=True).click()
        await expect(page.locator("#secret")).to_have_text(re.compile(r"^whsec_"))
        row = page.locator("#hooks tbody tr")
        await expect(row).to_have_count(1)
        await expect(row).to_contain_text("message.created")
        await page.screenshot(path=str(screenshots / "webhooks.png"))

        # The secret is not on the page after a reload.
        await page.reload()
        await expect(page.locator("body")).to_have_attribute("data-ready", "webhooks")
        await expect(page.locator("#secret-box")).to_be_hidden()

        channel = await create_webchat(served.client, admin)
        key = channel["public_key"]
        token = (await visitor_session(served.client, key))["visitor_token"]
        await visitor_post(served.client, key, token, "hello")
        await eventually(lambda: len(rec.delivered("/ok")) == 1)

        await page.get_by_role("button", name="Deliveries").click()
        delivery = page.locator("#deliveries tbody tr")
        await expect(delivery).to_have_attribute("data-status", "delivered")
        await page.get_by_role("button", name="Redeliver").click()
        await eventually(lambda: len(rec.delivered("/ok")) == 2)

        toggle = page.get_by_role("checkbox", name="Active")
        await toggle.uncheck()
        await expect(page.locator("body")).to_have_attribute("data-ready", "webhooks")
        await expect(page.get_by_role("checkbox", name="Active")).not_to_be_checked()

        async def turned_off() -> bool:  # the page's PATCH may still be on its way
            r = await served.client.get(
                "/api/v1/webhooks", headers={"Authorization": f"Bearer {admin}"}
            )
            return r.json()[0]["is_active"] is False

        await eventually(turned_off)

    # The senders turned it off after a day of failures: a notice at the top of the page.
    async with served.ctx.sessions() as session:
        await session.execute(text("UPDATE webhook_endpoints SET disabled_reason = 'failing'"))
        await session.commit()
    await page.reload()
    await expect(page.locator("#notices")).to_contain_text("Turned off after failing for a day")

    await page.locator("#lang").select_option("ru")
    await expect(page.locator("h1")).to_have_text("Вебхуки")
    await expect(page.get_by_role("button", name="Доставки")).to_be_visible()
    await expect(page.locator("#notices")).to_contain_text("Отключён после суток ошибок")
    await page.screenshot(path=str(screenshots / "webhooks-ru.png"))
    assert page.errors == []  # type: ignore[attr-defined]
    await ctx.close()
