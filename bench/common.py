"""What every benchmark shares: a database, the service started as in production
(`python -m app serve` processes), seed data through the public API, and percentiles.

The load generators run in processes of their own and send open-loop (request i is sent
at t0 + i / rate whether or not earlier ones returned), so a slow server shows up as
latency instead of silently lowering the offered rate."""

import asyncio
import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / ".chatcentre" / "bench"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"
ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-password-123"
UNLIMITED = {
    "CHATCENTRE_RATE_LIMIT_PUBLIC": "100000000/minute",
    "CHATCENTRE_RATE_LIMIT_WIDGET_MESSAGES": "100000000/minute",
    "CHATCENTRE_RATE_LIMIT_LOGIN": "100000000/minute",
    "CHATCENTRE_RATE_LIMIT_API": "100000000/minute",
    "CHATCENTRE_RATE_LIMIT_WIDGET_SESSIONS": "100000000/minute",
    "CHATCENTRE_RATE_LIMIT_WIDGET_MESSAGES_IP": "100000000/minute",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def database(fresh: bool = True) -> str:
    """CHATCENTRE_DATABASE_URL, or the embedded server in .chatcentre/bench; migrated, and
    emptied when `fresh`."""
    from app.db import migrate
    from app.models import SEEDED_TABLES, Base

    url = os.environ.get("CHATCENTRE_DATABASE_URL")
    if not url:
        from app.db.embedded import start_embedded

        url = start_embedded(DATA_DIR, database="chatcentre_bench")
    await migrate.upgrade(url)
    if fresh:
        engine = create_async_engine(url)
        tables = ", ".join(
            t.name for t in Base.metadata.sorted_tables if t.name not in SEEDED_TABLES
        )
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()
    return url


@dataclass
class Node:
    """One `python -m app serve` process (with N uvicorn workers)."""

    proc: subprocess.Popen[bytes]
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        import psutil

        parent = psutil.Process(self.proc.pid)
        return [parent.pid, *(c.pid for c in parent.children(recursive=True))]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_node(url: str, workers: int = 1, port: int | None = None, **env: str) -> Node:
    port = port or free_port()
    environment = {
        **os.environ,
        "CHATCENTRE_DATABASE_URL": url,
        "CHATCENTRE_SECRET_KEY": SECRET,
        "CHATCENTRE_DATA_DIR": str(DATA_DIR),
        "CHATCENTRE_LOG_LEVEL": "warning",
        **UNLIMITED,
        **env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
    )
    return Node(proc, port)


async def wait_ready(nodes: list[Node], timeout: float = 60) -> None:
    async with httpx.AsyncClient() as client:
        for node in nodes:
            deadline = time.monotonic() + timeout
            while True:
                if node.proc.poll() is not None:
                    raise RuntimeError(f"node on port {node.port} exited")
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{node.base}/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"node on port {node.port} did not start")
                await asyncio.sleep(0.1)


async def seed_admin(url: str) -> None:
    from app.operators.security import hash_password

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO operators (email, name, password_hash, role) "
                "VALUES (:e, 'bench', :h, 'admin') ON CONFLICT (email) DO NOTHING"
            ),
            {"e": ADMIN_EMAIL, "h": hash_password(ADMIN_PASSWORD)},
        )
    await engine.dispose()


async def admin_token(client: httpx.AsyncClient) -> str:
    r = await client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of raw samples (exact; no histogram buckets)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass
class Report:
    name: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def print(self) -> None:
        widths = [
            max(len(str(c)), *(len(_fmt(r[i])) for r in self.rows)) if self.rows else len(c)
            for i, c in enumerate(self.columns)
        ]
        line = "  ".join(str(c).ljust(w) for c, w in zip(self.columns, widths, strict=True))
        print(f"\n{self.name}\n{line}\n{'-' * len(line)}")
        for r in self.rows:
            print("  ".join(_fmt(v).ljust(w) for v, w in zip(r, widths, strict=True)))
        for k, v in self.notes.items():
            print(f"{k}: {_fmt(v)}")

    def save(self, filename: str) -> Path:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / filename
        path.write_text(
            json.dumps(
                {
                    "name": self.name,
                    "at": datetime.now(UTC).isoformat(),
                    "machine": {
                        "cpus": os.cpu_count(),
                        "python": platform.python_version(),
                        "platform": platform.platform(),
                    },
                    "columns": self.columns,
                    "rows": self.rows,
                    "notes": self.notes,
                },
                indent=2,
                default=str,
            )
        )
        return path


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants, the ones that exited
    too: each live process's own time and what it reaped from its children (PostgreSQL's
    backends come and go; without the reaped time a window's difference could be negative)."""
    import psutil

    parent = psutil.Process(pid)
    total = 0.0
    for proc in [parent, *parent.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


# PostgreSQL's own processes beside the client backends (their process titles).
_AUXILIARY_TITLES = (
    "checkpointer",
    "background writer",
    "walwriter",
    "autovacuum",
    "logical replication",
    "archiver",
    "startup",
    "walsender",
    "walreceiver",
)


def client_backends_cpu(postmaster: int) -> dict[int, float]:
    """CPU seconds of each live client backend of a PostgreSQL server, by pid: what the
    statements cost, without the checkpointer's and autovacuum's bursts, which land in one
    window or another and made the whole server's figure move by 2x between runs."""
    import psutil

    out: dict[int, float] = {}
    for proc in psutil.Process(postmaster).children():
        try:
            title = " ".join(proc.cmdline())
            if any(aux in title for aux in _AUXILIARY_TITLES):
                continue
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        out[proc.pid] = times.user + times.system
    return out


def embedded_postmaster(check_env: bool = True) -> int | None:
    """The embedded PostgreSQL's postmaster (its processes are its children), if it runs
    and is the bench's server (check_env: not when CHATCENTRE_DATABASE_URL names another)."""
    pidfile = DATA_DIR / "pg" / "postmaster.pid"
    if (check_env and os.environ.get("CHATCENTRE_DATABASE_URL")) or not pidfile.exists():
        return None
    return int(pidfile.read_text().split()[0])
