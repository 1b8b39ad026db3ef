"""The console's search box in Chromium: a visitor's message is found by another form of
its word, the results are grouped, the snippet's markup is ours only, and a click opens the
conversation."""

from pathlib import Path

from playwright.async_api import Browser, expect

from tests.browser.conftest import Served
from tests.browser.test_console_and_widget import (
    log_in,
    open_widget,
    setup,
    still_same_page,
    thread,
    visitor_writes,
)


async def test_search_finds_a_message_and_opens_its_conversation(
    served: Served, browser: Browser, screenshots: Path
) -> None:
    key = await setup(served)
    v_ctx, visitor = await open_widget(browser, served, key)
    await visitor.get_by_role("button", name="Open chat").click()
    await visitor_writes(visitor, "Где моя доставка? <img src=x onerror=alert(1)>")
    op_ctx, op = await log_in(browser, served)
    # The list shows the last message from the API (no live event seen since login).
    await expect(op.locator(".conv").first).to_contain_text("Где моя доставка?")

    await op.get_by_label("Search", exact=True).fill("доставки")
    results = op.locator("#search-results")
    await expect(results.get_by_role("heading", name="Messages")).to_be_visible()
    hit = results.locator(".search-hit", has_text="доставка")
    await expect(hit.locator("mark")).to_have_text("доставка")
    assert await results.locator("img").count() == 0
    await op.screenshot(path=str(screenshots / "console-search.png"))

    await hit.click()
    await expect(results).to_be_hidden()
    await expect(thread(op, "Где моя доставка?")).to_be_visible()
    await still_same_page(op)
    await v_ctx.close()
    await op_ctx.close()
