"""The console's list controls, snooze, notifications, the editable contact card and the
offline outbox, in Chromium: tab counts, the waiting-time sort, filters, saved views;
snoozing with a preset and waking up live; the title's count, browser notifications and
the sound; editing the card; a reply written offline goes out once on reconnect."""

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import text

from app.routing import tasks
from tests.browser.conftest import Served
from tests.browser.test_console_and_widget import PASSWORD, log_in, setup, still_same_page
from tests.browser.test_i18n_themes import run_axe
from tests.helpers import auth, visitor_post, visitor_session


async def _world(served: Served) -> dict[str, Any]:
    """Vera's conversation waits an hour, Ivan's since now; both in the queue."""
    key = await setup(served)
    c = served.client
    r = await c.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": PASSWORD}
    )
    admin = r.json()["access_token"]
    convs: dict[str, int] = {}
    contacts: dict[str, int] = {}
    for name in ("Vera Lee", "Ivan"):
        visitor = await visitor_session(c, key, name=name)
        sent = await visitor_post(c, key, visitor["visitor_token"], f"Hello from {name}", name[:4])
        assert sent.status_code == 201, sent.text
        convs[name] = sent.json()["message"]["conversation_id"]
        contacts[name] = visitor["contact_id"]
    async with served.ctx.sessions() as s:
        await s.execute(
            text(
                "UPDATE conversations SET last_inbound_at = now() - interval '1 hour',"
                " last_activity_at = now() - interval '1 hour' WHERE id = :id"
            ),
            {"id": convs["Vera Lee"]},
        )
        await s.commit()
    return {"admin": admin, "key": key, "convs": convs, "contacts": contacts}


def _names(page: Page) -> Any:
    return page.locator("#conv-list .conv-name")


async def test_counts_sort_filters_and_saved_views(
    served: Served, browser: Browser, screenshots: Path
) -> None:
    w = await _world(served)
    ctx, op = await log_in(browser, served)
    tab = op.locator(".filters .tab-count[data-for='all']")
    await expect(tab).to_have_text("2")
    api = await served.client.get("/api/v1/conversations/counts", headers=auth(w["admin"]))
    for name in ("mine", "queue", "resolved"):
        badge = op.locator(f".tab-count[data-for='{name}']")
        await expect(badge).to_have_text(str(api.json()[name]))
    await expect(_names(op)).to_have_text(["Ivan", "Vera Lee"])  # the latest activity first

    await op.locator("#view-toggle").click()
    await op.get_by_label("Sort").select_option("waiting")
    await expect(_names(op)).to_have_text(["Vera Lee", "Ivan"])  # the longest wait first
    await op.get_by_label("Status").select_option("resolved")
    await expect(_names(op)).to_have_count(0)
    await op.get_by_label("Status").select_option("open")
    await expect(_names(op)).to_have_text(["Vera Lee", "Ivan"])
    await expect(op.locator("#view-toggle")).to_have_text("Filters (1)")

    # Save the set as a view: a tab of its own, stored on the server.
    op.once("dialog", lambda d: d.accept("Waiting longest"))
    await op.get_by_role("button", name="Save as view…").click()
    view_tab = op.locator(".view-tab", has_text="Waiting longest")
    await expect(view_tab).to_have_attribute("aria-pressed", "true")
    r = await served.client.get("/api/v1/saved-views", headers=auth(w["admin"]))
    assert r.json()[0]["filters"]["sort"] == "waiting"
    await op.screenshot(path=str(screenshots / "console-saved-views.png"))

    # Another tab and other filters, then the view again: its filters come back.
    await op.get_by_label("Sort").select_option("activity")
    await op.get_by_label("Status").select_option("")
    await expect(view_tab).to_have_attribute("aria-pressed", "false")
    await expect(_names(op)).to_have_text(["Ivan", "Vera Lee"])
    await view_tab.click()
    await expect(_names(op)).to_have_text(["Vera Lee", "Ivan"])
    await expect(op.get_by_label("Status")).to_have_value("open")

    # A new conversation arrives live: the counts follow.
    v = await visitor_session(served.client, w["key"], name="Olga")
    await visitor_post(served.client, w["key"], v["visitor_token"], "Hi", "olga")
    await expect(tab).to_have_text("3")

    await op.get_by_role("button", name="Delete view").click()
    await expect(view_tab).to_have_count(0)
    r = await served.client.get("/api/v1/saved-views", headers=auth(w["admin"]))
    assert r.json() == []
    await still_same_page(op)
    await ctx.close()


async def test_snooze_with_a_preset_and_wake_up_live(
    served: Served, browser: Browser, screenshots: Path
) -> None:
    w = await _world(served)
    vera = w["convs"]["Vera Lee"]
    ctx, op = await log_in(browser, served)
    await op.locator(".conv", has_text="Vera Lee").click()
    await op.get_by_role("button", name="Snooze", exact=True).click()
    await expect(op.locator(".snooze-option")).to_have_count(3)
    await op.screenshot(path=str(screenshots / "console-snooze.png"))
    await op.locator(".snooze-option[data-preset='tomorrow']").click()
    await expect(op.locator("#thread-meta .tag-snoozed")).to_be_visible()
    await expect(op.get_by_role("button", name="Unsnooze")).to_be_visible()
    await expect(op.locator("#snooze-until")).to_contain_text("Snoozed until")
    r = await served.client.get(f"/api/v1/conversations/{vera}", headers=auth(w["admin"]))
    until = r.json()["snoozed_until"]
    assert r.json()["status"] == "snoozed" and until
    local = await op.evaluate(
        f"(() => {{ const d = new Date('{until}'); return [d.getHours(), d.getMinutes()]; }})()"
    )
    assert local == [9, 0]
    await expect(op.locator(".conv", has_text="Vera Lee").locator(".tag-snoozed")).to_be_visible()
    await expect(op.locator(".filter[data-filter='all']")).to_have_attribute(
        "title", "2 conversations"
    )

    # Due: the routing timers open it again, and the console shows it live.
    async with served.ctx.sessions() as s:
        await s.execute(
            text("UPDATE conversations SET snoozed_until = now() WHERE id = :id"), {"id": vera}
        )
        assert await tasks.run_snooze_wakeups(s) == 1
        await s.commit()
    await expect(op.locator("#thread-meta .tag-open")).to_be_visible()
    await expect(op.get_by_role("button", name="Snooze", exact=True)).to_be_visible()

    # Unsnooze by hand.
    await op.get_by_role("button", name="Snooze", exact=True).click()
    await op.locator(".snooze-option[data-preset='hour']").click()
    await op.get_by_role("button", name="Unsnooze").click()
    await expect(op.locator("#thread-meta .tag-open")).to_be_visible()
    r = await served.client.get(f"/api/v1/conversations/{vera}", headers=auth(w["admin"]))
    assert r.json()["status"] == "open" and r.json()["snoozed_until"] is None
    await still_same_page(op)
    await ctx.close()


async def _until(page: Page, js: str, seconds: float = 10) -> None:
    """Polls a page expression (the console's CSP forbids wait_for_function's eval)."""
    for _ in range(int(seconds * 10)):
        if await page.evaluate(js):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never true: {js}")


RECORD_NOTIFICATIONS = """
window.__notes = [];
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) {
    window.__notes.push({ title, body: options && options.body });
    super(title, options);
  }
};
"""


async def test_title_count_notifications_and_sound(
    served: Served, browser: Browser, screenshots: Path
) -> None:
    w = await _world(served)
    ctx, op = await log_in(browser, served)
    await ctx.grant_permissions(["notifications"], origin=served.base_url)
    await op.add_init_script(RECORD_NOTIFICATIONS)
    await op.reload()
    await expect(op.locator("#conn-status")).to_have_attribute("data-state", "live")
    await op.evaluate("window.__noReload = true")

    counts = (
        await served.client.get("/api/v1/conversations/counts", headers=auth(w["admin"]))
    ).json()
    wanted = counts["mine_unread"] + counts["queue"]
    await expect(op).to_have_title(f"({wanted}) chatcentre console")

    # Both off by default; the operator turns them on.
    bell = op.locator("#notify-toggle")
    sound = op.locator("#sound-toggle")
    await expect(bell).to_have_attribute("aria-pressed", "false")
    await expect(sound).to_have_attribute("aria-pressed", "false")
    await bell.click()
    await sound.click()
    await expect(bell).to_have_attribute("aria-pressed", "true")
    await expect(sound).to_have_attribute("aria-pressed", "true")

    # A new client writes: a notification (queue, or one's own new chat) and a beep.
    v = await visitor_session(served.client, w["key"], name="Olga")
    await visitor_post(served.client, w["key"], v["visitor_token"], "First words", "olga-1")
    await _until(op, "window.__notes.length > 0")
    await expect(op).to_have_title(re.compile(r"^\(\d+\) chatcentre console$"))
    # Once it is the operator's own, a message in it (not open on screen) tells its text.
    olga = (await served.client.get("/api/v1/conversations", headers=auth(w["admin"]))).json()
    conv = next(c for c in olga["items"] if c["contact"]["name"] == "Olga")
    me = (await served.client.get("/api/v1/operators/me", headers=auth(w["admin"]))).json()
    await served.client.post(
        f"/api/v1/conversations/{conv['id']}/assign",
        json={"assignee_id": me["id"]},
        headers=auth(w["admin"]),
    )
    await visitor_post(served.client, w["key"], v["visitor_token"], "Are you there?", "olga-2")
    await _until(op, "window.__notes.some((n) => n.body === 'Are you there?')")
    notes = await op.evaluate("window.__notes")
    assert {"title": "New message from Olga", "body": "Are you there?"} in notes
    assert int(await op.evaluate("document.body.dataset.beeps")) >= 2

    # Turned off: nothing more.
    await bell.click()
    await sound.click()
    before = len(notes)
    await visitor_post(served.client, w["key"], v["visitor_token"], "Hello?", "olga-3")
    await expect(op.locator(".conv", has_text="Olga").locator(".unread")).to_have_text("3")
    assert len(await op.evaluate("window.__notes")) == before
    await still_same_page(op)
    await ctx.close()


async def _count(served: Served, conversation_id: int, body: str) -> int:
    async with served.ctx.sessions() as s:
        n = await s.scalar(
            text("SELECT count(*) FROM messages WHERE conversation_id = :c AND text = :t"),
            {"c": conversation_id, "t": body},
        )
    return int(n or 0)


async def test_drafts_survive_a_reload_and_the_outbox_sends_once(
    served: Served, browser: Browser, screenshots: Path
) -> None:
    w = await _world(served)
    vera = w["convs"]["Vera Lee"]
    ctx, op = await log_in(browser, served)
    box = op.locator("#composer-text")

    # A draft per conversation, back after a reload.
    await op.locator(".conv", has_text="Vera Lee").click()
    await box.fill("Half-written answer")
    await op.locator(".conv", has_text="Ivan").click()
    await expect(box).to_have_value("")
    await op.reload()
    await expect(op.locator("#conn-status")).to_have_attribute("data-state", "live")
    await op.get_by_role("button", name="All", exact=True).click()
    await op.locator(".conv", has_text="Vera Lee").click()
    await expect(box).to_have_value("Half-written answer")
    await op.evaluate("window.__noReload = true")

    # Offline: the reply waits in the outbox (shown in the thread), then goes out once.
    await ctx.set_offline(True)
    await expect(op.locator("#conn-status")).to_have_attribute("data-state", "offline")
    await box.fill("Written on the train")
    await box.press("Enter")
    pending = op.locator("#outbox-list .msg-pending", has_text="Written on the train")
    await expect(pending).to_be_visible()
    await expect(box).to_have_value("")
    await op.screenshot(path=str(screenshots / "console-outbox.png"))
    assert await _count(served, vera, "Written on the train") == 0
    await ctx.set_offline(False)
    await expect(op.locator("#messages .msg-text", has_text="Written on the train")).to_have_count(
        1
    )
    await expect(pending).to_have_count(0)
    assert await op.evaluate("localStorage.getItem('chatcentre.outbox')") == "[]"
    assert await _count(served, vera, "Written on the train") == 1

    # The server stored it but the answer was lost: the outbox sends it again with the
    # same client id, and the server keeps one.
    lost: list[str] = []

    async def lose_the_answer(route: Any) -> None:
        if route.request.method == "POST" and not lost:
            lost.append(route.request.post_data or "")
            await route.fetch()  # reaches the server
            await route.abort()  # the browser never hears back
        else:
            await route.continue_()

    await op.route(f"**/api/v1/conversations/{vera}/messages", lose_the_answer)
    await box.fill("Did this arrive?")
    await box.press("Enter")
    await expect(
        op.locator("#outbox-list .msg-pending", has_text="Did this arrive?")
    ).to_be_visible()
    assert await _count(served, vera, "Did this arrive?") == 1
    await op.evaluate("window.dispatchEvent(new Event('online'))")
    await expect(op.locator("#messages .msg-text", has_text="Did this arrive?")).to_have_count(1)
    await expect(op.locator("#outbox-list .msg-pending")).to_have_count(0)
    assert await _count(served, vera, "Did this arrive?") == 1
    assert '"client_message_id"' in lost[0]
    # The browser logs the failed requests themselves; nothing else may have failed.
    op.errors[:] = [e for e in op.errors if "net::ERR_" not in e]  # type: ignore[attr-defined]
    await still_same_page(op)
    await ctx.close()


async def test_contact_card_edits_and_timeline_links(
    served: Served, browser: Browser, screenshots: Path
) -> None:
    w = await _world(served)
    vera_contact = w["contacts"]["Vera Lee"]
    r = await served.client.get("/api/v1/categories", headers=auth(w["admin"]))
    category = r.json()[0]
    async with served.ctx.sessions() as s:  # a visitor who never said their name
        await s.execute(
            text("UPDATE contact_identities SET display_name = NULL WHERE contact_id = :c"),
            {"c": vera_contact},
        )
        await s.commit()
    ctx, op = await log_in(browser, served)
    await op.locator(".conv", has_text="Vera Lee").click()
    card = op.locator("#contact-body")
    await expect(card.locator("h3")).to_have_text("Vera Lee")
    # The web chat identity reads as the channel's contact noun, never visitor:<code>.
    await expect(card.locator(".identities")).to_contain_text("Visitor")
    await expect(card.locator(".identities")).not_to_contain_text("visitor:")
    # The timeline shows the message's text.
    await expect(card.locator(".timeline .tp-note", has_text="Hello from Vera Lee")).to_be_visible()

    await card.get_by_role("button", name="Edit").click()
    await card.get_by_label("Name").fill("Vera Lebedeva")
    await card.get_by_label("Phone").fill("+7 916 123-45-67")
    await card.get_by_label("Email").fill("not an address")
    await card.get_by_role("button", name="Save").click()
    await expect(card.locator(".form-error")).to_contain_text("email address")
    await card.get_by_label("Email").fill("vera@example.com")
    await card.get_by_label("Stage").select_option("customer")
    await card.get_by_label("Category").select_option(label=category["name"])
    await card.get_by_label("Owner").select_option(label="Alex Morgan")
    await op.screenshot(path=str(screenshots / "console-contact-edit.png"))
    await card.get_by_role("button", name="Save").click()
    await expect(card.locator("h3")).to_have_text("Vera Lebedeva")
    await expect(card.locator(".facts")).to_contain_text(category["name"])
    await expect(card.locator(".facts")).not_to_contain_text(f" {category['code']} ")
    await expect(card.locator(".facts")).to_contain_text("customer")
    await expect(op.locator("#thread-title")).to_have_text("Vera Lebedeva")
    got = (
        await served.client.get(f"/api/v1/contacts/{vera_contact}", headers=auth(w["admin"]))
    ).json()
    assert (got["name"], got["email"], got["stage"]) == (
        "Vera Lebedeva",
        "vera@example.com",
        "customer",
    )
    assert got["category"] == category["code"] and got["owner_id"] is not None

    # The stage change is on the timeline (after a refresh of the card).
    await op.locator(".conv", has_text="Ivan").click()
    await op.locator(".conv", has_text="Vera Lebedeva").click()
    await expect(card.locator(".tp[data-kind='stage_change'] .tp-note")).to_contain_text(
        "lead → customer"
    )
    # A message's touch opens its conversation at that message.
    await op.locator(".conv", has_text="Ivan").click()
    await expect(card.locator("h3")).to_have_text("Ivan")
    await op.locator(".conv", has_text="Vera Lebedeva").click()
    await card.locator(".tp-link", has_text="Hello from Vera Lee").click()
    await expect(op.locator("#messages .msg-flash")).to_contain_text("Hello from Vera Lee")
    await op.screenshot(path=str(screenshots / "console-contact-timeline.png"))
    await still_same_page(op)
    await ctx.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_contrast_of_the_new_parts(
    served: Served, browser: Browser, screenshots: Path, scheme: str
) -> None:
    """axe-core's colour-contrast rule over the counts, the open filter box, the pressed
    toggles, the snooze menu and the contact card's form, in both themes."""
    await _world(served)
    ctx, op = await log_in(browser, served, color_scheme=scheme, bypass_csp=True)
    await expect(op.locator(".tab-count[data-for='all']")).to_have_text("2")
    await op.locator("#view-toggle").click()
    await op.locator("#sound-toggle").click()
    await op.locator(".conv", has_text="Vera Lee").click()
    await op.get_by_role("button", name="Snooze", exact=True).click()
    await expect(op.locator(".snooze-option")).to_have_count(3)
    assert await run_axe(op) == [], "list controls and snooze menu"
    await op.keyboard.press("Escape")
    await op.locator("#contact-body").get_by_role("button", name="Edit").click()
    await expect(op.locator(".contact-edit")).to_be_visible()
    assert await run_axe(op) == [], "contact form"
    await op.screenshot(path=str(screenshots / f"console-views-{scheme}.png"))
    await ctx.close()
