"""The console's own pages (reports, automation, business hours, webhooks) are served in one
shell (app/console/static/shell.html): each page is a whole document with the shared head and
top bar written once, plus the page's own title, styles, script and content."""

from html.parser import HTMLParser

import pytest

from app.console.api import SHELL_PAGES, STATIC
from tests.conftest import Running

ROUTES = {
    "/reports": ("chatcentre reports", "/console/reports.js"),
    "/automation": ("chatcentre automation", "/console/automation.js"),
    "/business-hours": ("chatcentre business hours", "/console/business-hours.js"),
    "/webhooks": ("chatcentre webhooks", "/console/webhooks.js"),
}


class _Outline(HTMLParser):
    """The parts of a page the shell is responsible for, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.topbars = 0
        self.language_selects = 0
        self.title = ""
        self.mains = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a.get("src") or "")
        if tag == "header" and a.get("class") == "topbar":
            self.topbars += 1
        if tag == "select" and a.get("id") == "lang":
            self.language_selects += 1
        if tag == "main":
            self.mains += 1
        self._in_title = tag == "title"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False


@pytest.mark.parametrize("route", ROUTES)
async def test_a_page_is_the_shell_with_its_own_part(run: Running, route: str) -> None:
    r = await run.client.get(route)
    assert r.status_code == 200
    assert r.text.startswith("<!doctype html>")
    assert "<!--HEAD-->" not in r.text and "<!--MAIN-->" not in r.text
    page = _Outline()
    page.feed(r.text)
    title, script = ROUTES[route]
    assert page.title == title
    assert page.topbars == 1 and page.language_selects == 1 and page.mains == 1
    # i18n.js (a classic script) defines _() before the page's module runs.
    assert page.scripts[0] == "/console/i18n.js"
    assert page.scripts[-1] == script


def test_page_files_do_not_repeat_the_shell() -> None:
    shell = (STATIC / "shell.html").read_text()
    for name in SHELL_PAGES:
        own = (STATIC / name).read_text()
        for line in ('<header class="topbar">', 'id="lang"', "/console/i18n.js", "favicon"):
            assert line in shell and line not in own, (name, line)
