"""The migrations on a fresh database of their own: up, down to base, up again; the models
agree with what the migrations build (autogenerate finds nothing to do), and the SQL functions
are the ones declared beside their owners."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import migrate
from app.db.sqlfunctions import drift
from app.models import SQL_FUNCTIONS, Base
from app.search.models import TRIGRAM_INDEXES

EXPECTED_TABLES = {
    "messages",
    "conversations",
    "contacts",
    "contact_identities",
    "touchpoints",
    "outbox",
    "operators",
    "teams",
    "api_keys",
    "channel_accounts",
}


@pytest.fixture
async def fresh_database(database_url: str) -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    name = f"chatcentre_migtest_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
        try:
            yield url
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def _schema(url: str) -> tuple[set[str], set[str]]:
    """(tables, user-defined types) in the public schema."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            types = set(
                (
                    await conn.execute(
                        text(
                            "SELECT t.typname FROM pg_type t "
                            "JOIN pg_namespace n ON n.oid = t.typnamespace "
                            "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c') "
                            "AND NOT EXISTS (SELECT 1 FROM pg_class c "
                            "WHERE c.reltype = t.oid)"
                        )
                    )
                ).scalars()
            )
    finally:
        await engine.dispose()
    return tables, types


async def _functions(url: str) -> tuple[set[str], list[str]]:
    """(our functions' names in the public schema, their drift from the declarations)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            names = set(
                (
                    await conn.execute(
                        text(
                            "SELECT proname FROM pg_proc WHERE proname LIKE 'chatcentre%' "
                            "AND pronamespace = 'public'::regnamespace"
                        )
                    )
                ).scalars()
            )
            return names, await conn.run_sync(lambda c: drift(c, SQL_FUNCTIONS))
    finally:
        await engine.dispose()


async def _diff(url: str) -> list[Any]:
    engine = create_async_engine(url)

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(fresh_database: str) -> None:
    url = fresh_database
    tables, _ = await _schema(url)
    assert tables == set()

    await migrate.upgrade(url)
    tables, types = await _schema(url)
    assert tables >= EXPECTED_TABLES, EXPECTED_TABLES - tables
    assert {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"} == tables
    names, drifted = await _functions(url)
    assert names == {fn.name for fn in SQL_FUNCTIONS} and drifted == [], drifted

    await migrate.downgrade(url, "base")
    tables, leftover_types = await _schema(url)
    assert tables <= {"alembic_version"}, tables
    assert leftover_types == set(), f"downgrade left types behind: {leftover_types}"
    names, _ = await _functions(url)
    assert names == set(), f"downgrade left functions behind: {names}"

    await migrate.upgrade(url)
    tables, types_again = await _schema(url)
    assert tables >= EXPECTED_TABLES
    assert types_again == types
    # The frozen bodies of the old migrations are replaced by the declared ones at head.
    names, drifted = await _functions(url)
    assert names == {fn.name for fn in SQL_FUNCTIONS} and drifted == [], drifted

    # Upgrading an up-to-date database is a no-op.
    await migrate.upgrade(url)


async def _has_extension(url: str, name: str) -> bool:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        found = await conn.scalar(
            text("SELECT count(*) FROM pg_extension WHERE extname = :n"), {"n": name}
        )
    await engine.dispose()
    return bool(found)


async def test_models_match_migrations(fresh_database: str) -> None:
    await migrate.upgrade(fresh_database)
    diff = await _diff(fresh_database)
    if not await _has_extension(fresh_database, "pg_trgm"):  # the embedded server
        diff = [d for d in diff if not (d[0] == "add_index" and d[1].name in TRIGRAM_INDEXES)]
    assert diff == [], "models and migrations disagree:\n" + "\n".join(map(repr, diff))
