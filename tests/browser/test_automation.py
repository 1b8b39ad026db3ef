"""Automation rules and macros in Chromium: an admin creates and orders rules with the
select-based forms, dry-runs one, saves a macro and runs it from the conversation view (the
system note shows up in the thread); the page in Russian."""

from pathlib import Path

from playwright.async_api import Browser, expect

from tests.browser.conftest import Served
from tests.browser.test_console_and_widget import log_in
from tests.conftest import Running, create_operator
from tests.helpers import auth, create_webchat, visitor_post, visitor_session


async def test_rules_and_macros_pages(browser: Browser, served: Served, screenshots: Path) -> None:
    run = Running(app=served.app, ctx=served.ctx, client=served.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    key = (await create_webchat(served.client, admin))["public_key"]
    visitor = (await visitor_session(served.client, key))["visitor_token"]
    assert (
        await visitor_post(served.client, key, visitor, "What is the price?")
    ).status_code == 201
    ctx, page = await log_in(browser, served)
    conversation_id = (
        await served.client.get("/api/v1/conversations", headers=auth(admin))
    ).json()["items"][0]["id"]

    await page.goto(f"{served.base_url}/automation")
    await expect(page.locator("body")).to_have_attribute("data-ready", "1")
    for name in ("Price question", "Second"):
        await page.get_by_role("button", name="New rule").click()
        await page.locator("#rule-name").fill(name)
        await page.get_by_label("When").select_option("message.created")
        await page.get_by_role("button", name="Add a condition").click()
        row = page.locator("#rule-conditions .auto-row").last
        await row.get_by_label("Type").select_option("text_contains")
        await row.get_by_label("Value").fill("price, cost")
        action = page.locator("#rule-actions .auto-row").first
        await action.get_by_label("Value").fill("Asked about prices")
        await page.get_by_role("button", name="Save the rule").click()
        await expect(page.locator("#rules li", has_text=name)).to_be_visible()
    await page.locator("#rules li", has_text="Second").get_by_role("button", name="Move up").click()
    await expect(page.locator("#rules li").first).to_contain_text("Second")
    rules = (await served.client.get("/api/v1/automation-rules", headers=auth(admin))).json()
    assert [r["name"] for r in rules] == ["Second", "Price question"]
    assert rules[1]["conditions"] == [{"type": "text_contains", "values": ["price", "cost"]}]

    await (
        page.locator("#rules li", has_text="Price question")
        .get_by_role("button", name="Edit")
        .click()
    )
    await page.get_by_label("Conversation id").fill(str(conversation_id))
    await page.get_by_label("Message text").fill("and the cost?")
    await page.get_by_role("button", name="Dry run", exact=True).click()
    await expect(page.locator("#dry-result")).to_contain_text("Would run: Add a note")
    await page.screenshot(path=str(screenshots / "automation-rules.png"))

    await page.locator("#macro-name").fill("Prioritise")
    macro_row = page.locator("#macro-actions .auto-row").first
    await macro_row.get_by_label("Type").select_option("set_priority")
    await macro_row.get_by_label("Value").fill("3")
    await page.get_by_role("button", name="Save the macro").click()
    await expect(page.locator("#macros li", has_text="Prioritise")).to_be_visible()

    await page.goto(served.base_url + "/")
    await page.get_by_role("button", name="All", exact=True).click()
    await page.locator(".conv").first.click()
    await page.locator("#macro-select").focus()
    await page.locator("#macro-select").select_option(label="Prioritise")
    await page.get_by_role("button", name="Run macro").click()
    await expect(page.locator("#toasts")).to_contain_text("1 action done.")
    await expect(page.locator("#messages")).to_contain_text("Macro «Prioritise»: priority set to 3")
    r = await served.client.get(f"/api/v1/conversations/{conversation_id}", headers=auth(admin))
    assert r.json()["priority"] == 3
    assert page.errors == []  # type: ignore[attr-defined]

    await page.goto(f"{served.base_url}/automation?lang=ru")
    await expect(page.locator("body")).to_have_attribute("data-ready", "1")
    await expect(page.locator("#rules-title")).to_have_text("Правила автоматизации")
    await expect(page.locator("#macros li", has_text="Prioritise")).to_contain_text("мой")
    await page.screenshot(path=str(screenshots / "automation-rules-ru.png"))
    await ctx.close()
