"""Async Alembic environment. The URL is given by the caller (app.db.migrate) or resolved
from chatcentre's settings, so `alembic upgrade head` and `chatcentre migrate` agree."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import get_settings
from app.db.engine import resolve_database_url
from app.db.sqlfunctions import drop, script, sync
from app.models import SQL_FUNCTIONS, Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    return str(url) if url else resolve_database_url(get_settings())


def _at_head() -> bool:
    target = context.get_revision_argument()  # "head" arrives resolved; base as None
    targets = set(target) if isinstance(target, tuple) else {target}
    return targets == set(context.script.get_heads())


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
        if _at_head():  # the same end state as sync(), without asking the database
            for statement in script(SQL_FUNCTIONS):
                context.execute(statement)


def _sync_functions(connection: Connection) -> None:
    """The SQL functions declared beside their owners (app/db/sqlfunctions.py) are a
    repeatable step at head: migrations keep their frozen bodies as history, and the
    declared text replaces whatever they left. Down to base they go with the tables."""
    if _at_head():
        sync(connection, SQL_FUNCTIONS)
    elif context.get_revision_argument() is None:  # down to base
        drop(connection, SQL_FUNCTIONS)


def _run_sync(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
        _sync_functions(connection)


async def run_migrations_online() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_sync(connection)
    else:
        asyncio.run(run_migrations_online())
