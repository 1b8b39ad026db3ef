"""The operator console and the widget in a real browser (Chromium through Playwright).

A visitor writes on the demo page; the operator, logged in in a second browser context,
sees it arrive without a reload and answers; the visitor sees the answer. Then the
operator's connection is cut (the browser goes offline; later the server closes every
socket) and restored: messages sent meanwhile appear. Screenshots of the console and the
widget, desktop and phone-sized, go to artifacts/screenshots/."""

import re
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import DESKTOP, PHONE, Served
from tests.conftest import Running, create_operator
from tests.helpers import auth, create_webchat

PASSWORD = "ochre-82-jy"  # create_operator's


async def setup(served: Served) -> str:
    """An admin named Alex Morgan and a web chat widget; returns the widget key."""
    run = Running(app=served.app, ctx=served.ctx, client=served.client)
    admin = await create_operator(run, "admin@example.com", "admin")
    me = (await served.client.get("/api/v1/operators/me", headers=auth(admin))).json()
    r = await served.client.patch(
        f"/api/v1/operators/{me['id']}", json={"name": "Alex Morgan"}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    channel = await create_webchat(served.client, admin)
    key: str = channel["public_key"]
    return key


async def log_in(
    browser: Browser, served: Served, screenshot: Path | None = None, **context: Any
) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(**({"viewport": DESKTOP} | context))
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text) if msg.type == "error" and "WebSocket" not in msg.text else None
        ),
    )
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(served.base_url + "/")
    await expect(page.get_by_label("Email")).to_be_focused()
    if screenshot is not None:
        await page.screenshot(path=str(screenshot))
    await page.get_by_label("Email").fill("admin@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "live")
    await page.get_by_role("button", name="All", exact=True).click()
    # A reload would lose this: it proves everything below arrives live.
    await page.evaluate("window.__noReload = true")
    return ctx, page


async def open_widget(
    browser: Browser, served: Served, key: str, **context: Any
) -> tuple[BrowserContext, Page]:
    ctx = await browser.new_context(**({"viewport": DESKTOP} | context))
    page = await ctx.new_page()
    await page.goto(f"{served.base_url}/widget/demo?key={key}")
    return ctx, page


async def visitor_writes(page: Page, text: str) -> None:
    box = page.get_by_label("Your message")
    await box.fill(text)
    await box.press("Enter")
    await expect(page.locator(".m-in .b", has_text=text)).to_be_visible()


def thread(page: Page, text: str) -> Any:
    return page.locator("#messages .msg-text", has_text=text)


async def still_same_page(page: Page) -> None:
    assert await page.evaluate("window.__noReload === true"), "the console reloaded"
    assert not page.errors, page.errors  # type: ignore[attr-defined]


async def test_visitor_and_operator_talk_live(
    served: Served, browser: Browser, screenshots: Path
) -> None:
    key = await setup(served)
    op_ctx, op = await log_in(browser, served, screenshots / "console-login.png")
    v_ctx, visitor = await open_widget(browser, served, key)

    # The visitor opens the bubble and writes.
    await visitor.get_by_role("button", name="Open chat").click()
    await visitor_writes(visitor, "Hi! Where is my order #4521?")

    # The operator sees the conversation appear, opens it, and reads the message.
    conv = op.locator(".conv").first
    await expect(conv).to_be_visible()
    await expect(conv.locator(".unread")).to_have_text("1")
    await expect(conv.locator(".ch-webchat")).to_have_count(1)
    await conv.click()
    await expect(thread(op, "Where is my order #4521?")).to_be_visible()
    await expect(op.locator("#contact-body h3")).to_have_text(re.compile(r"Visitor #\d+"))

    # Enter sends; Shift+Enter is a new line.
    box = op.get_by_label("Message", exact=True)
    await box.fill("It ships tomorrow.")
    await box.press("Shift+Enter")
    await box.type("Tracking: NW-123")
    await box.press("Enter")
    await expect(thread(op, "Tracking: NW-123")).to_be_visible()
    sent = op.locator(".msg-out").last
    # The visitor's open widget shows it at once, so it may be read already.
    await expect(sent.locator(".state")).to_have_text(re.compile(r"^(Sent|Read)$"))

    # The visitor gets the answer live.
    answer = visitor.locator(".m-out .b", has_text="It ships tomorrow.")
    await expect(answer).to_be_visible()
    assert await answer.inner_text() == "It ships tomorrow.\nTracking: NW-123"

    # A private note stays in the console.
    await op.get_by_role("button", name="Private note").click()
    await box.fill("VIP client: offer free shipping next time")
    await box.press("Enter")
    await expect(op.locator(".msg-note", has_text="VIP client")).to_be_visible()
    await op.get_by_role("button", name="Reply", exact=True).click()

    # The visitor answers; the operator sees it in the open conversation.
    await visitor_writes(visitor, "Great, thank you!")
    await expect(thread(op, "Great, thank you!")).to_be_visible()
    await expect(visitor.locator(".m-out .b")).to_have_count(1)  # never the note
    await expect(op.locator("#contact-body .timeline li")).not_to_have_count(0)

    await op.screenshot(path=str(screenshots / "console-desktop.png"))
    await visitor.screenshot(path=str(screenshots / "widget-desktop.png"))

    # The visitor's session survives a reload: history comes back, and a new message lands in
    # the same conversation.
    await visitor.reload()
    # It stays open across the reload (the launcher says so).
    await expect(visitor.get_by_role("dialog", name="Chat with us")).to_be_visible()
    await expect(visitor.get_by_role("button", name="Open chat")).to_have_attribute(
        "aria-expanded", "true"
    )
    await expect(visitor.locator(".m-out .b", has_text="It ships tomorrow.")).to_be_visible()
    await visitor_writes(visitor, "One more question")
    await expect(thread(op, "One more question")).to_be_visible()
    assert await op.locator(".conv").count() == 1

    # Resolve, then it shows under Resolved; reopen.
    await op.get_by_role("button", name="Resolve", exact=True).click()
    await expect(op.locator("#thread-meta .tag")).to_have_text("resolved")
    await op.get_by_role("button", name="Resolved", exact=True).click()
    await expect(op.locator(".conv")).to_have_count(1)
    await op.get_by_role("button", name="Reopen").click()
    await expect(op.locator("#thread-meta .tag")).to_have_text("open")
    await still_same_page(op)

    # Phone-sized: the widget fills the screen; the console shows one pane at a time.
    phone_ctx, phone = await open_widget(browser, served, key, **PHONE)
    await phone.screenshot(path=str(screenshots / "widget-phone-closed.png"))
    await phone.get_by_role("button", name="Open chat").click()
    await visitor_writes(phone, "Writing from my phone")
    await op.get_by_role("button", name="All", exact=True).click()
    await expect(op.locator(".conv")).to_have_count(2)  # a new visitor, a new conversation
    await op.locator(".conv").first.click()
    await expect(thread(op, "Writing from my phone")).to_be_visible()
    await op.get_by_label("Message", exact=True).fill("Hello phone!")
    await op.get_by_label("Message", exact=True).press("Enter")
    await expect(phone.locator(".m-out .b", has_text="Hello phone!")).to_be_visible()
    panel = await phone.locator(".panel").bounding_box()
    assert panel is not None and panel["width"] == 390 and panel["height"] == 844, panel
    await phone.screenshot(path=str(screenshots / "widget-phone.png"))

    op_phone_ctx, op_phone = await log_in(browser, served, **PHONE)
    await op_phone.screenshot(path=str(screenshots / "console-phone-list.png"))
    await op_phone.locator(".conv").first.click()
    await expect(op_phone.locator("#messages .msg").first).to_be_visible()
    await op_phone.screenshot(path=str(screenshots / "console-phone-thread.png"))
    await still_same_page(op)

    for ctx in (op_ctx, v_ctx, phone_ctx, op_phone_ctx):
        await ctx.close()


async def test_operator_reconnects_and_catches_up(
    served: Served, browser: Browser, screenshots: Path
) -> None:
    key = await setup(served)
    op_ctx, op = await log_in(browser, served)
    v_ctx, visitor = await open_widget(browser, served, key)
    await visitor.get_by_role("button", name="Open chat").click()
    await visitor_writes(visitor, "First message")
    await op.locator(".conv").first.click()
    await expect(thread(op, "First message")).to_be_visible()

    # 1. The operator's browser loses the network: the console says so and gets nothing.
    await op_ctx.set_offline(True)
    await expect(op.locator("#conn-status")).to_have_attribute("data-state", "offline")
    await visitor_writes(visitor, "Sent while you were offline")
    await visitor_writes(visitor, "And another one")
    await op.wait_for_timeout(700)
    await expect(thread(op, "Sent while you were offline")).to_have_count(0)
    await op.screenshot(path=str(screenshots / "console-offline.png"))

    # Back online: it reconnects with after=<last id> and the missed messages appear.
    await op_ctx.set_offline(False)
    await expect(op.locator("#conn-status")).to_have_attribute("data-state", "live")
    await expect(op.locator("body")).to_have_attribute("data-reconnects", "1")
    await expect(thread(op, "Sent while you were offline")).to_be_visible()
    await expect(thread(op, "And another one")).to_be_visible()

    # 2. The server drops every socket (a restart, a proxy timeout): the console backs off,
    # reconnects and catches up; a message sent during the gap appears once.
    await served.app.state.hub.close_all()
    await visitor_writes(visitor, "Sent during the server drop")
    await expect(thread(op, "Sent during the server drop")).to_have_count(1)
    await expect(op.locator("#conn-status")).to_have_attribute("data-state", "live")
    await expect(op.locator("body")).to_have_attribute("data-reconnects", "2", timeout=10000)

    # The visitor's socket was cut too: an answer still reaches them.
    box = op.get_by_label("Message", exact=True)
    await box.fill("Sorry for the wait, all caught up.")
    await box.press("Enter")
    await expect(visitor.locator(".m-out .b", has_text="all caught up")).to_be_visible()
    for text in ("First message", "Sent while you were offline", "Sent during the server drop"):
        await expect(thread(op, text)).to_have_count(1)  # de-duplicated by id
    await still_same_page(op)

    for ctx in (op_ctx, v_ctx):
        await ctx.close()


async def test_pages_and_widget_script(served: Served) -> None:
    """The console sends a strict CSP; the demo page explains itself without a key and
    embeds the widget (escaped) with one."""
    r = await served.client.get("/")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self' ws: wss:" in csp
    assert "unsafe-inline" not in csp
    assert "<script>" not in r.text  # no inline scripts
    r = await served.client.get("/widget.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    r = await served.client.get("/widget/demo")
    assert r.status_code == 200 and "chatcentre channel add webchat" in r.text
    assert "widget.js" not in r.text.split("<!--")[0] or 'data-widget-key="KEY"' in r.text
    r = await served.client.get("/widget/demo", params={"key": "abc_DEF-1"})
    assert 'data-widget-key="abc_DEF-1"' in r.text
    r = await served.client.get("/widget/demo", params={"key": '"><script>alert(1)</script>'})
    assert r.status_code == 422
    for bad in ("/console/nope.js", "/console/index.html", "/console/..%2Fapi.py"):
        r = await served.client.get(bad)
        assert r.status_code == 404, bad
