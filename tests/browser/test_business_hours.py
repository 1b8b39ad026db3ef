"""The business-hours page in Chromium: an admin sets a team's time zone, a schedule with two
intervals on one day, a holiday and business-time targets, and a channel's out-of-office and
greeting texts in both languages; the API then has exactly that. In Russian too."""

from pathlib import Path

from playwright.async_api import Browser, expect

from tests.browser.conftest import Served
from tests.browser.test_console_and_widget import log_in
from tests.conftest import Running, create_operator
from tests.helpers import auth, create_webchat


async def test_business_hours_page(browser: Browser, served: Served, screenshots: Path) -> None:
    run = Running(app=served.app, ctx=served.ctx, client=served.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    r = await served.client.post("/api/v1/teams", json={"name": "Sales"}, headers=auth(admin))
    assert r.status_code == 201, r.text
    team = r.json()["id"]
    channel = (await create_webchat(served.client, admin))["id"]

    ctx, page = await log_in(browser, served)
    await page.get_by_role("link", name="Business hours").click()
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.get_by_role("heading", name="Business hours", exact=True)).to_be_visible()

    await page.get_by_label("Use business hours").check()
    await page.get_by_label("Time zone").fill("Europe/Moscow")
    await page.get_by_label("Response targets count business time only").check()
    await page.get_by_role("button", name="Add hours on Monday").click()
    await page.get_by_role("button", name="Add hours on Monday").click()
    await page.get_by_label("Monday opens").nth(0).fill("09:00")
    await page.get_by_label("Monday closes").nth(0).fill("13:00")
    await page.get_by_label("Monday opens").nth(1).fill("14:00")
    await page.get_by_label("Monday closes").nth(1).fill("18:00")
    await page.get_by_role("button", name="Add hours on Friday").click()
    await page.get_by_label("Friday closes").fill("24:00")
    await page.get_by_role("button", name="Add a holiday").click()
    await page.get_by_label("Holiday date").fill("2026-12-31")
    await page.get_by_label("Holiday name").fill("New Year's Eve")
    await page.get_by_role("button", name="Save the schedule").click()
    await expect(page.locator("#hours-saved")).to_have_text("Schedule saved.")

    r = await served.client.get(f"/api/v1/teams/{team}/business-hours", headers=auth(admin))
    hours = r.json()
    assert hours["enabled"] and hours["business_time_only"]
    assert hours["timezone"] == "Europe/Moscow"
    assert hours["schedule"] == [
        {"weekday": 1, "opens": "09:00", "closes": "13:00"},
        {"weekday": 1, "opens": "14:00", "closes": "18:00"},
        {"weekday": 5, "opens": "09:00", "closes": "24:00"},
    ]
    assert hours["holidays"] == [{"date": "2026-12-31", "name": "New Year's Eve"}]

    # A bad time zone: the API's message, nothing saved.
    await page.get_by_label("Time zone").fill("Mars/Olympus")
    await page.get_by_role("button", name="Save the schedule").click()
    await expect(page.locator("#error")).to_contain_text("Mars/Olympus")
    r = await served.client.get(f"/api/v1/teams/{team}/business-hours", headers=auth(admin))
    assert r.json()["timezone"] == "Europe/Moscow"

    await page.locator("#ooo-en").fill("We are closed, back at 9:00")
    await page.locator("#ooo-ru").fill("Мы закрыты, вернёмся в 9:00")
    await page.locator("#greeting-en").fill("Hello!")
    await page.get_by_role("button", name="Save the replies").click()
    await expect(page.locator("#replies-saved")).to_have_text("Replies saved.")
    r = await served.client.get(f"/api/v1/channels/{channel}/auto-replies", headers=auth(admin))
    assert r.json()["out_of_office"] == {
        "en": "We are closed, back at 9:00",
        "ru": "Мы закрыты, вернёмся в 9:00",
    }
    assert r.json()["greeting"] == {"en": "Hello!"}
    await page.screenshot(path=str(screenshots / "business-hours.png"), full_page=True)

    await page.locator("#lang").select_option("ru")
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await expect(page.get_by_role("heading", name="Часы работы", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Добавить часы: Понедельник")).to_be_visible()
    await expect(page.get_by_label("Понедельник: начало").nth(1)).to_have_value("14:00")
    await page.screenshot(path=str(screenshots / "business-hours-ru.png"), full_page=True)
    # Only the refused time zone's 422, which the browser logs.
    assert [e for e in page.errors if "422" not in e] == []  # type: ignore[attr-defined]
    await ctx.close()
