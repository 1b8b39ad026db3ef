"""Labels and canned responses in the console, in Chromium: chips on the list and in the
conversation's header, adding and removing a label there, the label filter; the composer's
"/" picker (filtering as one types, arrows, Enter inserts the server-rendered text, Esc
closes, and none of it sends a message)."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import Served
from tests.browser.test_console_and_widget import PASSWORD, log_in, setup, still_same_page
from tests.browser.test_i18n_themes import run_axe
from tests.helpers import auth, visitor_post, visitor_session


async def _world(served: Served) -> dict[str, Any]:
    """Two visitors' conversations (Vera's labelled VIP, with an order), two labels and two
    canned responses, made through the API."""
    key = await setup(served)
    c = served.client
    r = await c.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD}
    )
    admin = r.json()["access_token"]
    convs = {}
    for name in ("Vera Lee", "Ivan"):
        visitor = await visitor_session(c, key, name=name)
        sent = await visitor_post(
            c, key, visitor["visitor_token"], f"Hello from {name}", f"m-{len(convs)}"
        )
        assert sent.status_code == 201, sent.text
        convs[name] = (sent.json()["message"]["conversation_id"], visitor["contact_id"])
    for name, colour in (("VIP", "#dc2626"), ("Delivery", "#2563eb")):
        r = await c.post(
            "/api/v1/labels", json={"name": name, "colour": colour}, headers=auth(admin)
        )
        assert r.status_code == 201, r.text
    vera, vera_contact = convs["Vera Lee"]
    r = await c.post(
        f"/api/v1/conversations/{vera}/labels", json={"labels": ["VIP"]}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    r = await c.put(
        "/api/v1/orders/A-1001", json={"client": {"contact_id": vera_contact}}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    for body in (
        {
            "scope": "shared",
            "short_code": "greet",
            "content": "Hello {{contact.first_name}}, this is {{operator.first_name}}.",
        },
        {"short_code": "order", "content": "Your order {{order.number}} is on its way."},
    ):
        r = await c.post("/api/v1/canned-responses", json=body, headers=auth(admin))
        assert r.status_code == 201, r.text
    return {"admin": admin, "vera": vera, "ivan": convs["Ivan"][0]}


def _item(page: Page, name: str) -> Any:
    return page.locator(".conv", has_text=name)


async def test_label_chips_filter_and_editing(
    served: Served, browser: Browser, screenshots: Path
) -> None:
    w = await _world(served)
    ctx, op = await log_in(browser, served)
    await expect(_item(op, "Vera Lee").locator(".label-name")).to_have_text(["VIP"])
    await expect(_item(op, "Ivan")).to_be_visible()
    await expect(_item(op, "Ivan").locator(".label-chip")).to_have_count(0)

    # The filter keeps only the labelled conversation (from the API's label=), then all.
    await op.get_by_label("Filter by label").select_option("VIP")
    await expect(_item(op, "Ivan")).to_have_count(0)
    await expect(_item(op, "Vera Lee")).to_be_visible()
    await op.screenshot(path=str(screenshots / "console-label-filter.png"))
    await op.get_by_label("Filter by label").select_option("")
    await expect(_item(op, "Ivan")).to_be_visible()

    # Add a label in the header: a chip there and on the list item, stored on the server.
    await _item(op, "Ivan").click()
    head = op.locator("#thread-labels")
    await expect(head.locator(".label-chip")).to_have_count(0)
    await op.get_by_label("Add a label").select_option("Delivery")
    await expect(head.locator(".label-name")).to_have_text(["Delivery"])
    await expect(_item(op, "Ivan").locator(".label-name")).to_have_text(["Delivery"])
    r = await served.client.get(f"/api/v1/conversations/{w['ivan']}", headers=auth(w["admin"]))
    assert r.json()["labels"] == ["Delivery"]
    await op.screenshot(path=str(screenshots / "console-labels.png"))

    await op.get_by_role("button", name="Remove the label Delivery").click()
    await expect(head.locator(".label-chip")).to_have_count(0)
    await expect(_item(op, "Ivan").locator(".label-chip")).to_have_count(0)
    r = await served.client.get(f"/api/v1/conversations/{w['ivan']}", headers=auth(w["admin"]))
    assert r.json()["labels"] == []

    # A label put on elsewhere (an automation, a colleague) arrives live.
    await served.client.post(
        f"/api/v1/conversations/{w['ivan']}/labels",
        json={"labels": ["VIP"]},
        headers=auth(w["admin"]),
    )
    await expect(head.locator(".label-name")).to_have_text(["VIP"])
    await still_same_page(op)
    await ctx.close()


async def test_slash_opens_the_canned_response_picker(
    served: Served, browser: Browser, screenshots: Path
) -> None:
    w = await _world(served)
    ctx, op = await log_in(browser, served)
    await _item(op, "Vera Lee").click()
    box = op.locator("#composer-text")
    picker = op.locator("#canned-picker")
    await expect(box).to_be_focused()

    await box.press_sequentially("/")
    await expect(picker.locator(".canned-code")).to_have_count(2)
    await expect(picker.locator(".canned-option").first).to_have_attribute("aria-selected", "true")
    await op.screenshot(path=str(screenshots / "console-canned-picker.png"))
    await box.press("Escape")
    await expect(picker).to_be_hidden()
    await expect(box).to_have_value("/")

    # Typing filters by the code; Enter inserts the text rendered for this conversation.
    await box.press_sequentially("ord")
    await expect(picker.locator(".canned-code")).to_have_count(1)
    await expect(picker.locator(".canned-code")).to_contain_text("/order")
    await box.press("Enter")
    await expect(box).to_have_value("Your order A-1001 is on its way.")
    await expect(picker).to_be_hidden()

    # After a space, "/" opens it again; arrows move; the text is also searched.
    await box.press_sequentially(" /")
    await expect(picker.locator(".canned-option")).to_have_count(2)
    await box.press("ArrowDown")
    await expect(picker.locator(".canned-option").nth(1)).to_have_attribute("aria-selected", "true")
    await box.press("ArrowUp")
    await expect(picker.locator(".canned-option").first).to_have_attribute("aria-selected", "true")
    await box.press_sequentially("this")  # part of greet's text, not of a code
    await expect(picker.locator(".canned-code")).to_have_text([re.compile("/greet")])
    await box.press_sequentially(" ")  # a space ends the code
    await expect(picker).to_be_hidden()
    await box.fill("Hi! /")
    await box.press_sequentially("gr")
    await expect(picker.locator(".canned-code")).to_have_text([re.compile("/greet")])
    await box.press("Tab")
    await expect(box).to_have_value("Hi! Hello Vera, this is Alex.")

    # Nothing was sent meanwhile; Enter now sends the reply.
    messages = op.locator("#messages .msg-text")
    await expect(messages).to_have_count(1)
    await box.press("Enter")
    await expect(
        op.locator("#messages .msg-text", has_text="Hello Vera, this is Alex.")
    ).to_be_visible()
    await still_same_page(op)
    r = await served.client.get(
        f"/api/v1/conversations/{w['vera']}/messages", headers=auth(w["admin"])
    )
    assert [m["text"] for m in r.json()["items"]] == [
        "Hello from Vera Lee",
        "Hi! Hello Vera, this is Alex.",
    ]
    await ctx.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_chips_and_picker_keep_contrast_in_both_themes(
    served: Served, browser: Browser, screenshots: Path, scheme: str
) -> None:
    await _world(served)
    # bypass_csp: axe is injected as a script the page's CSP would refuse.
    ctx, op = await log_in(browser, served, color_scheme=scheme, bypass_csp=True)
    await _item(op, "Vera Lee").click()
    await expect(op.locator("#thread-labels .label-name")).to_have_text(["VIP"])
    await op.locator("#composer-text").press_sequentially("/")
    await expect(op.locator("#canned-picker .canned-option")).to_have_count(2)
    violations = await run_axe(op)
    assert violations == [], json.dumps(violations, ensure_ascii=False, indent=1)
    await op.screenshot(path=str(screenshots / f"console-labels-canned-{scheme}.png"))
    await ctx.close()
