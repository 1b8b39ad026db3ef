"""Serves the operator console (`/`, `/console/<file>`), the widget (`/widget.js`) and its
demo page (`/widget/demo`).

Plain ES modules and CSS, read once from `static/`: no build step. Everything here is
public and holds no secrets; the console and the widget talk to the public API only. HTML
pages carry a strict Content-Security-Policy (no inline scripts or styles)."""

import re
from html import escape
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.console.i18n import DOMAINS, LANGUAGES, catalogue_json
from app.core.errors import NotFound
from app.core.html import HTML_HEADERS

router = APIRouter(tags=["console"], include_in_schema=False)

STATIC = Path(__file__).parent / "static"
SHELL_PAGES = ("reports.html", "automation.html", "business-hours.html", "webhooks.html")

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}


def _load() -> dict[str, bytes]:
    """The asset allow-list: every file of static/ by name (no sub-folders, no traversal)."""
    return {
        p.name: p.read_bytes()
        for p in sorted(STATIC.iterdir())
        if p.is_file() and p.suffix in CONTENT_TYPES
    }


_ASSETS = _load()

# A console page file (reports.html, ...) holds only its own part: `<head>` lines (title,
# styles, scripts), its `<body ...>` tag, an optional `<header>` whose content joins the top
# bar, and its content. shell.html is the rest, written once: the common head and the top bar.
_PAGE = re.compile(
    r"<head>\n(?P<head>.*?)</head>\n(?P<body><body[^>]*>)\n"
    r"(?:\s*<header>\n(?P<topbar>.*?)\s*</header>\n)?(?P<main>.*?)</body>",
    re.DOTALL,
)


def _in_shell(page: str) -> bytes:
    part = _PAGE.search(_ASSETS[page].decode())
    if part is None:
        raise ValueError(f"{page} is not a console page part (see _PAGE)")
    html = _ASSETS["shell.html"].decode()
    for slot in ("head", "body", "topbar", "main"):
        text = (part[slot] or "").rstrip("\n")
        html = html.replace(f"<!--{slot.upper()}-->\n", text + "\n" if text else "")
    return html.encode()


_PAGES = {name: _in_shell(name) for name in SHELL_PAGES}


def _asset(name: str) -> Response:
    body = _ASSETS.get(name)
    if body is None:
        raise NotFound("No such file", "not_found")
    return Response(
        body,
        media_type=CONTENT_TYPES[Path(name).suffix],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/", response_class=HTMLResponse)
async def console_page() -> HTMLResponse:
    return HTMLResponse(_ASSETS["index.html"], headers=HTML_HEADERS)


@router.get("/reports", response_class=HTMLResponse)
async def reports_page() -> HTMLResponse:
    """The head of sales' reports (app/sales); the page signs in with the console's token."""
    return HTMLResponse(_PAGES["reports.html"], headers=HTML_HEADERS)


@router.get("/automation", response_class=HTMLResponse)
async def automation_page() -> HTMLResponse:
    """Automation rules and macros (app/automation); signs in with the console's token."""
    return HTMLResponse(_PAGES["automation.html"], headers=HTML_HEADERS)


@router.get("/business-hours", response_class=HTMLResponse)
async def business_hours_page() -> HTMLResponse:
    """Teams' business hours and channels' automatic replies (app/business_hours)."""
    return HTMLResponse(_PAGES["business-hours.html"], headers=HTML_HEADERS)


@router.get("/webhooks", response_class=HTMLResponse)
async def webhooks_page() -> HTMLResponse:
    """Outgoing webhooks (app/webhooks), for admins; signs in with the console's token."""
    return HTMLResponse(_PAGES["webhooks.html"], headers=HTML_HEADERS)


@router.get("/console/{asset}")
async def console_asset(asset: str) -> Response:
    if asset.endswith(".html"):  # pages have their own routes (and headers)
        raise NotFound("No such file", "not_found")
    return _asset(asset)


@router.get("/console/i18n/{domain}/{lang}.json")
async def console_catalogue(domain: str, lang: str) -> JSONResponse:
    """A message catalogue as JSON for static/i18n.js (see app/console/i18n.py)."""
    if domain not in DOMAINS or lang not in LANGUAGES:
        raise NotFound("No such catalogue", "not_found")
    return JSONResponse(
        catalogue_json(domain, lang),
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/widget.js")
async def widget_script() -> Response:
    return _asset("widget.js")


@router.get("/widget/demo", response_class=HTMLResponse)
async def widget_demo(
    request: Request,
    key: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] = None,
    lang: Annotated[str | None, Query(pattern=r"^[a-z]{2}$")] = None,
) -> HTMLResponse:
    """A page that embeds the widget with `?key=<widget key>` (and `&lang=ru`, the embed's
    data-lang); without a key, how to get one."""
    page = _ASSETS["demo.html"].decode()
    if key:
        data_lang = f' data-lang="{lang}"' if lang else ""
        embed = (
            f'<script src="/widget.js" data-widget-key="{escape(key)}"{data_lang} async></script>'
        )
        origin = str(request.base_url).rstrip("/")
        page = page.replace("<!--WIDGET-->", embed).replace("{{KEY}}", escape(key))
        page = page.replace("{{ORIGIN}}", escape(origin))
        page = page.replace('class="demo-nokey"', 'class="demo-nokey" hidden')
    else:
        page = page.replace('class="demo-haskey"', 'class="demo-haskey" hidden')
    return HTMLResponse(page, headers=HTML_HEADERS)
