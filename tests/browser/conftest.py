"""Real-browser tests: Playwright (Python, async API) driving Debian's Chromium against the
app served by uvicorn on a loopback port. Skipped, with the reason, when /usr/bin/chromium is
missing (.ci/run installs it)."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from app.cli import WS_PROTOCOL
from app.config import Settings
from app.core.context import AppContext, build_context
from app.main import create_app
from tests.conftest import ROOT, free_port, truncate_all

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1440, "height": 900}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install chromium")
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/") and not CHROMIUM.exists():
            item.add_marker(skip)


@dataclass
class Served:
    base_url: str
    app: FastAPI
    ctx: AppContext
    client: httpx.AsyncClient


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[Served]:
    """The app on uvicorn (real HTTP and WebSockets), with the app object at hand so a test
    can cut every socket from the server side."""
    ctx = build_context(settings)
    app = create_app(ctx=ctx)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            ws=WS_PROTOCOL,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
        if task.done():
            task.result()
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base) as client:
        try:
            yield Served(base, app, ctx, client)
        finally:
            server.should_exit = True
            await task
            await truncate_all(ctx.database_url)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
