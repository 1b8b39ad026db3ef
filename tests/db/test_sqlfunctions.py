"""SQL functions declared in files: slots filled from Python, synced by checksum, drift seen."""

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app.db.sqlfunctions import SqlFunction, SqlFunctionError, drift, ordered, script, sync
from app.ingest.sql import INGEST_MESSAGE
from app.models import SQL_FUNCTIONS


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[AsyncConnection]:
    """A connection whose work is rolled back: nothing these tests create stays."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            try:
                yield connection
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()


def _declare(tmp_path: Path, body: str, **params: str) -> SqlFunction:
    name = f"cc_test_fn_{uuid.uuid4().hex[:10]}"
    path = tmp_path / f"{name}.sql"
    path.write_text(body.replace("NAME", name))
    return SqlFunction(name, path, params)


_PLUS = """-- adds {{N}}
CREATE OR REPLACE FUNCTION NAME(p integer) RETURNS integer
LANGUAGE sql IMMUTABLE AS $fn$ SELECT p + {{N}} $fn$;
"""


async def _run(conn: AsyncConnection, fn: Callable[[Connection], Any]) -> Any:
    return await conn.run_sync(fn)


def test_slots_are_filled_and_checked(tmp_path: Path) -> None:
    fn = _declare(tmp_path, _PLUS, N="2")
    assert "SELECT p + 2" in fn.sql() and "-- adds 2" in fn.sql()
    assert fn.body == " SELECT p + 2 "
    with pytest.raises(SqlFunctionError, match="no value"):
        _declare(tmp_path, _PLUS).sql()
    with pytest.raises(SqlFunctionError, match="no slot"):
        _declare(tmp_path, _PLUS, N="2", M="3").sql()
    # Braces that are not a slot (JSON, PL/pgSQL) are left alone.
    braces = _declare(tmp_path, _PLUS.replace("p + {{N}}", "p + {{N}} + length('{}')"), N="1")
    assert "length('{}')" in braces.sql()
    other = SqlFunction("not_this_name", _declare(tmp_path, _PLUS, N="1").path, {"N": "1"})
    with pytest.raises(SqlFunctionError, match="does not CREATE"):
        other.sql()


def test_dependencies_come_first(tmp_path: Path) -> None:
    a = _declare(tmp_path, _PLUS, N="1")
    b = SqlFunction(a.name + "_b", a.path, {"N": "1"}, depends_on=(a.name,))
    assert [f.name for f in ordered([b, a])] == [a.name, b.name]
    with pytest.raises(SqlFunctionError, match="undeclared"):
        ordered([b])
    # Every declared function: each comes after what it calls (the ingest calls several).
    declared = ordered([INGEST_MESSAGE, *SQL_FUNCTIONS])
    names = [f.name for f in declared]
    assert INGEST_MESSAGE.depends_on
    for fn in declared:
        assert all(names.index(dep) < names.index(fn.name) for dep in fn.depends_on), fn.name


async def _value(conn: AsyncConnection, fn: SqlFunction) -> int:
    return int(await conn.scalar(text(f"SELECT {fn.name}(1)")))


async def test_sync_creates_once_then_leaves_alone(conn: AsyncConnection, tmp_path: Path) -> None:
    fn = _declare(tmp_path, _PLUS, N="2")
    assert await _run(conn, lambda c: drift(c, [fn])) == [f"{fn.name}: missing"]
    assert await _run(conn, lambda c: sync(c, [fn])) == [fn.name]
    assert await _value(conn, fn) == 3
    assert await _run(conn, lambda c: drift(c, [fn])) == []
    assert await _run(conn, lambda c: sync(c, [fn])) == []


async def test_a_changed_declaration_replaces_every_overload(
    conn: AsyncConnection, tmp_path: Path
) -> None:
    old = _declare(tmp_path, _PLUS, N="2")
    await _run(conn, lambda c: sync(c, [old]))
    # An older signature of the same function still installed (a dropped parameter).
    await conn.execute(
        text(
            f"CREATE FUNCTION {old.name}(p integer, q integer) RETURNS integer "
            "LANGUAGE sql AS 'SELECT p + q'"
        )
    )
    new = SqlFunction(old.name, old.path, {"N": "5"})
    problems = await _run(conn, lambda c: drift(c, [new]))
    assert problems and "2 overloads" in problems[0]
    assert await _run(conn, lambda c: sync(c, [new])) == [new.name]
    assert await _value(conn, new) == 6
    assert await _run(conn, lambda c: drift(c, [new])) == []
    count = await conn.scalar(
        text("SELECT count(*) FROM pg_proc WHERE proname = :n"), {"n": new.name}
    )
    assert count == 1


async def test_a_hand_edit_is_drift(conn: AsyncConnection, tmp_path: Path) -> None:
    fn = _declare(tmp_path, _PLUS, N="2")
    await _run(conn, lambda c: sync(c, [fn]))
    # Replaced in place: the comment stays, the body does not.
    await conn.execute(
        text(
            f"CREATE OR REPLACE FUNCTION {fn.name}(p integer) RETURNS integer "
            "LANGUAGE sql IMMUTABLE AS 'SELECT p + 100'"
        )
    )
    assert await _run(conn, lambda c: drift(c, [fn])) == [
        f"{fn.name}: body changed since it was created"
    ]
    await _run(conn, lambda c: sync(c, [fn]))
    assert await _value(conn, fn) == 3


async def test_the_declared_functions_are_installed(migrated: str) -> None:
    engine = create_async_engine(migrated)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(lambda c: drift(c, SQL_FUNCTIONS)) == []
    finally:
        await engine.dispose()


async def test_the_offline_script_ends_where_sync_does(
    conn: AsyncConnection, tmp_path: Path
) -> None:
    """`alembic upgrade head --sql` cannot ask the database: its statements drop whatever
    overloads exist and install the declared text with its comment."""
    fn = _declare(tmp_path, _PLUS, N="2")
    await conn.execute(
        text(
            f"CREATE FUNCTION {fn.name}(p integer, q integer) RETURNS integer "
            "LANGUAGE sql AS 'SELECT p + q'"
        )
    )
    for statement in script([fn]):
        await conn.exec_driver_sql(statement)
    assert await _run(conn, lambda c: drift(c, [fn])) == []
    assert await _value(conn, fn) == 3


_STAMP = """-- writes {{N}} into the row's n
CREATE OR REPLACE FUNCTION NAME() RETURNS trigger
LANGUAGE plpgsql AS $fn$ BEGIN NEW.n := {{N}}; RETURN NEW; END $fn$;
"""


async def test_a_trigger_function_brings_its_triggers(
    conn: AsyncConnection, tmp_path: Path
) -> None:
    """Triggers are part of the declaration: created after it, dropped before it (a
    changed function would otherwise fail to drop, or leave a trigger behind), drift when
    one is missing, and the offline script ends in the same place."""
    table = f"cc_test_t_{uuid.uuid4().hex[:10]}"
    await conn.execute(text(f"CREATE TABLE {table} (id int, n int)"))
    base = _declare(tmp_path, _STAMP, N="1")

    def declared(n: str) -> SqlFunction:
        trigger = (
            f"CREATE TRIGGER {table}_stamp BEFORE INSERT ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {base.name}()"
        )
        return SqlFunction(base.name, base.path, {"N": n}, triggers=(trigger,))

    async def stamped(row: int) -> int:
        await conn.execute(text(f"INSERT INTO {table} (id) VALUES ({row})"))
        return int(await conn.scalar(text(f"SELECT n FROM {table} WHERE id = {row}")))

    one = declared("1")
    assert await _run(conn, lambda c: sync(c, [one])) == [one.name]
    assert await stamped(1) == 1
    two = declared("2")  # a changed body: the trigger is dropped first, then made again
    assert await _run(conn, lambda c: sync(c, [two])) == [two.name]
    assert await stamped(2) == 2
    await conn.execute(text(f"DROP TRIGGER {table}_stamp ON {table}"))
    assert await _run(conn, lambda c: drift(c, [two])) == [f"{two.name}: 0 triggers, 1 declared"]
    for statement in script([declared("3")]):
        await conn.exec_driver_sql(statement)
    assert await _run(conn, lambda c: drift(c, [declared("3")])) == []
    assert await stamped(3) == 3
    with pytest.raises(SqlFunctionError, match="not a trigger executing it"):
        SqlFunction(base.name, base.path, {"N": "1"}, triggers=("DROP TABLE x",)).sql()
