"""The head of sales' reports in Chromium: each report page draws its chart and table from
a back-dated history, in English and Russian, exports CSV and XLSX, and a manager's console
shows the notice of leads dropped before the seventh touch. Screenshots go to
artifacts/screenshots/."""

from datetime import date
from pathlib import Path

from playwright.async_api import Browser, expect

from app.sales import seven
from tests.browser.conftest import PHONE, Served
from tests.browser.test_console_and_widget import log_in
from tests.conftest import Running, create_operator
from tests.sales.scenario import Sales, day

FILTERS = "week=2026-03-02&from=2026-03-02&to=2026-03-12&timezone=UTC"


async def seed(served: Served) -> int:
    run = Running(app=served.app, ctx=served.ctx, client=served.client)
    await create_operator(run, "admin@example.com", "admin")
    async with served.ctx.sessions() as session:
        h = Sales(session)
        anna, boris = await h.operator("Anna"), await h.operator("Boris")
        c1 = await h.client(anna, level=1, category="A", name="Client one")
        await h.touches(c1, [day(1), day(2)], kind="call", channel="phone", operator=anna)
        await h.touch(c1, day(3), kind="meeting", channel="phone", operator=anna)
        c2 = await h.client(boris, level=2, name="Client two")
        await h.touch(c2, day(2), operator=boris)
        won = await h.contact(anna, "customer", created=day(0), converted=day(4), touch=2)
        await h.touches(won, [day(0), day(1)], operator=anna)
        await h.order(won, day(4), {"value": "250.00", "currency": "EUR"})
        lost = await h.contact(anna, "lost", created=day(-3), changed=day(5.5), name="Lost lead")
        await h.touch(lost, day(-2), operator=anna)
        await session.commit()
    return anna


async def test_report_pages(browser: Browser, served: Served, screenshots: Path) -> None:
    await seed(served)
    ctx, page = await log_in(browser, served)
    await expect(page.get_by_role("link", name="Reports")).to_be_visible()
    await page.goto(f"{served.base_url}/reports?{FILTERS}#quotas")
    await expect(page.locator("body")).to_have_attribute("data-ready", "quotas")
    await expect(page.locator("#table tbody tr", has_text="Anna")).to_contain_text("10")  # owed
    await page.screenshot(path=str(screenshots / "reports-quotas.png"))
    for key, name, text in [
        ("plan", "Weekly plan", "Anna"),
        ("seven", "Rule of seven", "Lost lead"),  # the dropped list, under the chart
        ("base", "Base health", "below"),
        ("kpis", "Manager KPIs", "250.00 EUR"),
    ]:
        await page.get_by_role("link", name=name).click()
        await expect(page.locator("body")).to_have_attribute("data-ready", key)
        await expect(page.locator("main")).to_contain_text(text)
        assert await page.locator("#chart").evaluate("c => c.width > 0")
        await page.screenshot(path=str(screenshots / f"reports-{key}.png"))

    async with page.expect_download() as csv_download:
        await page.get_by_role("button", name="CSV").click()
    csv_path = await (await csv_download.value).path()
    assert "Anna" in Path(csv_path).read_text(encoding="utf-8-sig")
    async with page.expect_download() as xlsx_download:
        await page.get_by_role("button", name="XLSX").click()
    assert Path(await (await xlsx_download.value).path()).read_bytes()[:2] == b"PK"

    await page.locator("#lang").select_option("ru")
    await expect(page.locator("#title")).to_have_text("KPI менеджеров")
    await expect(page.locator("#table th").first).to_have_text("Менеджер")
    await page.screenshot(path=str(screenshots / "reports-kpis-ru.png"))
    assert page.errors == []  # type: ignore[attr-defined]
    await ctx.close()

    phone = await browser.new_context(**PHONE)
    mobile = await phone.new_page()
    await mobile.goto(served.base_url + "/")
    await mobile.evaluate(
        "t => sessionStorage.setItem('chatcentre.token', t)",
        await _token(served),
    )
    await mobile.goto(f"{served.base_url}/reports?{FILTERS}#seven")
    await expect(mobile.locator("body")).to_have_attribute("data-ready", "seven")
    await mobile.screenshot(path=str(screenshots / "reports-seven-phone.png"))
    await phone.close()


async def _token(served: Served) -> str:
    r = await served.client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "ochre-82-jy"}
    )
    token: str = r.json()["access_token"]
    return token


async def test_dropped_leads_notice_reaches_the_console(
    browser: Browser, served: Served, screenshots: Path
) -> None:
    await seed(served)
    ctx, page = await log_in(browser, served)
    admin_id = await page.evaluate(
        "fetch('/api/v1/operators/me', {headers: {Authorization: 'Bearer ' + "
        "sessionStorage.getItem('chatcentre.token')}}).then(r => r.json()).then(m => m.id)"
    )
    async with served.ctx.sessions() as session:
        h = Sales(session)
        lead = await h.contact(admin_id, "lost", created=day(-3), changed=day(5.5), name="Mine")
        await h.touch(lead, day(-2))
        await session.commit()
    async with served.ctx.sessions() as session:
        told = await seven.notify_dropped_leads(session, date(2026, 3, 8), "UTC")
        await session.commit()
    assert told[admin_id] == 1
    notice = page.locator(".toast-notice")
    await expect(notice).to_contain_text("1 of your leads dropped before the seventh touch")
    await page.screenshot(path=str(screenshots / "console-dropped-leads-notice.png"))
    await notice.get_by_role("link", name="See the list").click()
    await expect(page.locator("#dropped")).to_be_visible()
    await ctx.close()
