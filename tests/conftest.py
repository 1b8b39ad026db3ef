"""Test fixtures: a real PostgreSQL (CHATCENTRE_TEST_DATABASE_URL, or the embedded server),
the schema built by the real migrations, the app with its real lifespan (bus, hub,
dispatcher). Tests commit for real (the flows under test happen after commit: events,
dispatch), so every table is truncated after each test instead of rolling back."""

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.cli import WS_PROTOCOL
from app.config import Settings
from app.core.context import AppContext, build_context
from app.db import migrate
from app.db.embedded import start_embedded
from app.main import create_app
from app.models import SEEDED_TABLES, Base

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = (
    ROOT / "tests" / "fixtures"
)  # copied from the shared fixtures: the repo reads only itself


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """The given test database, or a database of this run's own on the embedded server
    (so two test runs on one machine never share tables)."""
    url = os.environ.get("CHATCENTRE_TEST_DATABASE_URL")
    if url:
        yield url
        return
    name = f"chatcentre_test_{os.getpid()}"
    url = start_embedded(ROOT / ".chatcentre" / "test", database=name)
    yield url
    admin_url = url.replace(f"/{name}?", "/postgres?")
    asyncio.run(_drop_database(admin_url, name))


async def _drop_database(admin_url: str, name: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


async def reset_schema(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture(scope="session")
async def migrated(database_url: str) -> str:
    await reset_schema(database_url)
    await migrate.upgrade(database_url)
    await remember_seeds(database_url)
    return database_url


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": tmp_path,
        "secret_key": "test-secret-key-that-is-long-enough-0123456789",
        "rate_limit_public": "100000/minute",
        "rate_limit_widget_messages": "100000/minute",
        "rate_limit_login": "100000/minute",
        "rate_limit_api": "100000/minute",
        "rate_limit_widget_sessions": "100000/minute",
        "rate_limit_widget_messages_ip": "100000/minute",
        "login_lockout": "100000/minute",
        "dispatcher_idle_poll_seconds": 0.2,
        "outbox_backoff_initial_seconds": 0.05,
        "outbox_backoff_max_seconds": 0.2,
        "bus_coalesce_ms": 1.0,
        # No overload shedding: a loaded CI machine must not turn the suite's bursts into
        # 503s (tests/core/test_shedding.py switches it on where it is the subject).
        "shed_max_in_flight": 0,
        "shed_max_pool_wait_ms": 0,
    }
    values.update(overrides)
    return Settings(**values)


# Rows the migrations seed (default client categories): put back after every truncate.
_seeded: dict[str, list[dict[str, Any]]] = {}


async def remember_seeds(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        for table in SEEDED_TABLES:
            rows = await conn.execute(text(f"SELECT * FROM {table}"))
            _seeded[table] = [dict(r._mapping) for r in rows]
    await engine.dispose()


def _json_encoded(row: dict[str, Any]) -> dict[str, Any]:
    """JSONB values (e.g. chain template buttons) go back as JSON text."""
    return {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()}


async def truncate_all(database_url: str) -> None:
    """Empty every table. Call it after the app (and its workers) stopped: TRUNCATE takes
    exclusive locks that would deadlock with a worker's query."""
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        for table, rows in _seeded.items():
            if rows:
                columns = ", ".join(rows[0])
                values = ", ".join(f":{c}" for c in rows[0])
                await conn.execute(
                    text(f"INSERT INTO {table} ({columns}) VALUES ({values})"),
                    [_json_encoded(r) for r in rows],
                )


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its apps."""
    return {}


@pytest.fixture
def settings(tmp_path: Path, migrated: str, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(tmp_path, migrated, **settings_overrides)


@dataclass
class Running:
    app: FastAPI
    ctx: AppContext
    client: httpx.AsyncClient

    async def admin_token(self, email: str = "admin@example.com") -> str:
        return await create_operator(self, email, role="admin")

    async def operator_token(self, email: str = "op@example.com") -> str:
        return await create_operator(self, email, role="operator")


async def create_operator(run: "Running", email: str, role: str) -> str:
    from app.operators import service as operators_service
    from app.operators.models import Role
    from app.operators.schemas import OperatorCreate

    async with run.ctx.sessions() as session:
        await operators_service.create_operator(
            session,
            OperatorCreate(
                email=email,
                name=email.split("@")[0],
                password="ochre-82-jy",
                role=Role(role),
            ),
        )
        await session.commit()
    r = await run.client.post(
        "/api/v1/auth/login", json={"email": email, "password": "ochre-82-jy"}
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


@contextlib.asynccontextmanager
async def running_app(settings: Settings, truncate: bool = True) -> AsyncIterator[Running]:
    """The app with its lifespan (bus, hub, workers). A second app in the same test (another
    "node") passes truncate=False: the outer one cleans up."""
    ctx = build_context(settings)
    app = create_app(ctx=ctx)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", timeout=30
            ) as client:
                yield Running(app, ctx, client)
    finally:
        if truncate:
            await truncate_all(ctx.database_url)


@pytest.fixture
async def run(settings: Settings) -> AsyncIterator[Running]:
    async with running_app(settings) as running:
        yield running


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    base_url: str
    ws_url: str
    ctx: AppContext
    client: httpx.AsyncClient
    app: FastAPI | None = None
    server: uvicorn.Server | None = None


@contextlib.asynccontextmanager
async def serve_app(settings: Settings) -> AsyncIterator[LiveServer]:
    """The app served by uvicorn on a loopback port: real HTTP and real WebSockets, the
    WebSocket protocol production uses. The one place tests start a server in-process."""
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
            ws_per_message_deflate=settings.ws_compression,  # as `chatcentre serve`
            proxy_headers=False,  # as `chatcentre serve`: the app trusts its own proxy list
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
        if task.done():
            task.result()
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        try:
            yield LiveServer(base, f"ws://127.0.0.1:{port}", ctx, client, app, server)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 30)


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[LiveServer]:
    async with serve_app(settings) as served:
        yield served
    await truncate_all(served.ctx.database_url)


@pytest.fixture(scope="session")
def fixtures_dir() -> Iterator[Path]:
    yield FIXTURES
