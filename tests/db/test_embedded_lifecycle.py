"""`chatcentre serve` on the embedded PostgreSQL (no database URL): the server it started
stops when the last process using it exits, by SIGTERM as by SIGINT, and not before."""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import httpx

from tests.conftest import ROOT, free_port
from tests.faults.support import CHATCENTRE, wait_for


def postgres_pids(pgdata: Path) -> list[int]:
    """Every running postgres process serving this data directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # exited meanwhile
        if argv and argv[0].endswith(b"postgres") and str(pgdata).encode() in argv:
            found.append(int(entry.name))
    return found


class Serve:
    """One `chatcentre serve` process on the data dir's embedded server."""

    def __init__(self, data_dir: Path, *args: str):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHATCENTRE_")}
        env |= {
            "CHATCENTRE_DATA_DIR": str(data_dir),
            "CHATCENTRE_PORT": str(self.port),
            "CHATCENTRE_LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT),
        }
        self.proc = subprocess.Popen([*CHATCENTRE, "serve", *args], env=env, cwd=data_dir)

    async def ready(self) -> None:
        async def answers() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited with {self.proc.returncode}")
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    r = await client.get(f"http://127.0.0.1:{self.port}/readyz")
            except httpx.HTTPError:
                return False
            return r.status_code == 200

        await wait_for(answers, 90, 0.2)

    async def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        return await asyncio.to_thread(self.proc.wait, 30)


@contextlib.asynccontextmanager
async def embedded_dir(tmp_path: Path):  # type: ignore[no-untyped-def]
    # Not under pytest's tmp tree: run as root, the server runs as another user, and a
    # concurrent pytest run makes /tmp/pytest-of-root private again.
    data_dir = Path(tempfile.mkdtemp(prefix="chatcentre-embedded-"))
    data_dir.chmod(0o755)
    started: list[Serve] = []
    try:
        yield data_dir, started
    finally:
        for s in started:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()
        for pid in postgres_pids(data_dir / "pg"):  # a failed test leaves no server behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)  # the postmaster's immediate shutdown
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_sigterm_stops_the_server_it_started(tmp_path: Path) -> None:
    async with embedded_dir(tmp_path) as (data_dir, started):
        serve = Serve(data_dir)
        started.append(serve)
        await serve.ready()
        assert postgres_pids(data_dir / "pg")
        assert await serve.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
        assert postgres_pids(data_dir / "pg") == [], users(data_dir)


def users(data_dir: Path) -> str:
    """The processes the library counts as the server's users (for a failure message)."""
    return (data_dir / "pg" / ".handle_pids.json").read_text()


async def test_shared_server_stops_with_its_last_user(tmp_path: Path) -> None:
    async with embedded_dir(tmp_path) as (data_dir, started):
        first = Serve(data_dir)
        started.append(first)
        await first.ready()
        second = Serve(data_dir, "--no-migrate")  # the first one migrated
        started.append(second)
        await second.ready()
        pgdata = data_dir / "pg"
        postmaster = postgres_pids(pgdata)
        assert postmaster

        await first.stop(signal.SIGTERM)
        assert postgres_pids(pgdata) == postmaster  # the other one still uses it
        async with httpx.AsyncClient(timeout=5) as client:
            r = await client.get(f"http://127.0.0.1:{second.port}/readyz")
        assert r.status_code == 200, r.text

        await second.stop(signal.SIGINT)
        assert postgres_pids(pgdata) == [], users(data_dir)
