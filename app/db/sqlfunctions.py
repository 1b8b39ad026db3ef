"""SQL functions declared beside the Python module that owns them.

The idea of alembic_utils' `PGFunction` (the declaration in the code is the source of truth)
without its autogenerate: each function is a `.sql` file in its owner's `sql/` folder, with
`{{KEY}}` slots that the owner fills from its Python constants, so a rule used on both sides
is written once. Migrations keep their frozen SQL as history; `sync` runs after every
upgrade to head (migrations/env.py) and brings the database to the declared text, and
`drift` says where the database differs from it.

A function carries a comment `chatcentre:sha256=<checksum of its text>`; one whose comment
and body match is left alone, so an up-to-date database costs one catalogue query per
function. Anything else is dropped (every overload: a changed signature or return type
cannot be replaced in place) and created again."""

import graphlib
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.engine import Connection

COMMENT_PREFIX = "chatcentre:sha256="
_SLOT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# The body PostgreSQL stores (pg_proc.prosrc) is what stands between the first pair of
# dollar quotes after AS.
_BODY = re.compile(r"\bAS\s+\$(\w*)\$(.*?)\$\1\$", re.DOTALL | re.IGNORECASE)
# Leading "--" lines say what the file is for; then comes the one statement.
_HEAD = re.compile(
    r"^(?:\s*--[^\n]*\n)*\s*CREATE\s+OR\s+REPLACE\s+FUNCTION\s+(\w+)\s*\(", re.IGNORECASE
)
_TRIGGER = re.compile(r"^\s*CREATE\s+TRIGGER\s+\w+\s", re.IGNORECASE)


class SqlFunctionError(ValueError):
    """A declaration that cannot be rendered: a slot without a value, a value without a
    slot, a file that does not create the function it names."""


@dataclass(frozen=True)
class SqlFunction:
    """`name` is the function's name in the database; `path` its SQL file (one
    `CREATE OR REPLACE FUNCTION`); `params` the values of its `{{KEY}}` slots, already SQL
    text; `depends_on` the names of the declared functions its body calls; `triggers` the
    CREATE TRIGGER statements that execute it (a trigger function's)."""

    name: str
    path: Path
    params: Mapping[str, str] = field(default_factory=dict)
    depends_on: Sequence[str] = ()
    triggers: Sequence[str] = ()

    def sql(self) -> str:
        """The file's text with its slots filled. Not str.format: PL/pgSQL is full of braces."""
        source = self.path.read_text(encoding="utf-8")
        used = {m.group(1) for m in _SLOT.finditer(source)}
        if missing := used - self.params.keys():
            raise SqlFunctionError(f"{self.path}: no value for {sorted(missing)}")
        if unknown := self.params.keys() - used:
            raise SqlFunctionError(f"{self.path}: no slot for {sorted(unknown)}")
        rendered = _SLOT.sub(lambda m: self.params[m.group(1)], source)
        head = _HEAD.match(rendered)
        if head is None or head.group(1) != self.name:
            raise SqlFunctionError(f"{self.path}: does not CREATE OR REPLACE FUNCTION {self.name}")
        if _BODY.search(rendered) is None:
            raise SqlFunctionError(f"{self.path}: the body is not dollar-quoted")
        for trigger in self.triggers:
            if not _TRIGGER.match(trigger) or f"FUNCTION {self.name}()" not in trigger:
                raise SqlFunctionError(f"{self.name}: not a trigger executing it: {trigger!r}")
        return rendered

    @cached_property
    def text(self) -> str:
        return self.sql()

    @property
    def checksum(self) -> str:
        declared = "\n".join([self.text, *self.triggers])
        return hashlib.sha256(declared.encode()).hexdigest()

    @property
    def body(self) -> str:
        """What PostgreSQL keeps as the function's source (pg_proc.prosrc)."""
        match = _BODY.search(self.text)
        assert match is not None  # checked by sql()
        return match.group(2)

    @property
    def comment(self) -> str:
        return COMMENT_PREFIX + self.checksum


class _Installed(NamedTuple):
    signature: str  # oid::regprocedure, e.g. chatcentre_x(bigint,text)
    source: str
    comment: str | None
    triggers: list[str]  # DROP TRIGGER's "name ON table" of each trigger executing it


_INSTALLED = text("""
SELECT p.oid::regprocedure::text, p.prosrc, obj_description(p.oid, 'pg_proc'),
       ARRAY(SELECT quote_ident(t.tgname) || ' ON ' || t.tgrelid::regclass::text
             FROM pg_trigger t WHERE t.tgfoid = p.oid AND NOT t.tgisinternal
             ORDER BY t.tgname)
FROM pg_proc p
WHERE p.proname = :name AND p.pronamespace = current_schema()::regnamespace
ORDER BY p.oid
""")


def _installed(conn: Connection, name: str) -> list[_Installed]:
    return [_Installed(*row) for row in conn.execute(_INSTALLED, {"name": name})]


def ordered(fns: Iterable[SqlFunction]) -> list[SqlFunction]:
    """Dependencies first; a dependency that is not declared is an error."""
    by_name = {fn.name: fn for fn in fns}
    graph: dict[str, set[str]] = {}
    for fn in by_name.values():
        if unknown := set(fn.depends_on) - by_name.keys():
            raise SqlFunctionError(f"{fn.name} depends on undeclared {sorted(unknown)}")
        graph[fn.name] = set(fn.depends_on)
    return [by_name[name] for name in graphlib.TopologicalSorter(graph).static_order()]


def _problem(fn: SqlFunction, installed: list[_Installed]) -> str | None:
    if not installed:
        return f"{fn.name}: missing"
    if len(installed) > 1:
        return (
            f"{fn.name}: {len(installed)} overloads ({', '.join(i.signature for i in installed)})"
        )
    (current,) = installed
    if current.comment != fn.comment:
        return f"{fn.name}: not the declared text (comment {current.comment!r})"
    if current.source != fn.body:
        return f"{fn.name}: body changed since it was created"
    if len(current.triggers) != len(fn.triggers):
        return f"{fn.name}: {len(current.triggers)} triggers, {len(fn.triggers)} declared"
    return None


def drift(conn: Connection, fns: Iterable[SqlFunction]) -> list[str]:
    """What differs between the database and the declarations; [] when nothing does."""
    problems = (_problem(fn, _installed(conn, fn.name)) for fn in ordered(fns))
    return [p for p in problems if p is not None]


def _drop_all(conn: Connection, installed: list[_Installed]) -> None:
    for old in installed:
        for trigger in old.triggers:
            conn.exec_driver_sql(f"DROP TRIGGER {trigger}")
        conn.exec_driver_sql(f"DROP FUNCTION {old.signature}")


def sync(conn: Connection, fns: Iterable[SqlFunction]) -> list[str]:
    """Creates what is missing or differs, dependencies first. Returns the names created."""
    created = []
    for fn in ordered(fns):
        installed = _installed(conn, fn.name)
        if _problem(fn, installed) is None:
            continue
        _drop_all(conn, installed)
        conn.exec_driver_sql(fn.text)
        (new,) = _installed(conn, fn.name)
        # Not text(): the comment's ":sha256" would read as a bind parameter.
        conn.exec_driver_sql(f"COMMENT ON FUNCTION {new.signature} IS {_literal(fn.comment)}")
        for trigger in fn.triggers:
            conn.exec_driver_sql(trigger)
        created.append(fn.name)
    return created


_OVERLOADS = (
    "SELECT p.oid::regprocedure FROM pg_proc p "
    "WHERE p.proname = $name AND p.pronamespace = current_schema()::regnamespace"
)


def script(fns: Iterable[SqlFunction]) -> list[str]:
    """The statements that install the declarations on a database nobody can ask first
    (`alembic upgrade head --sql`): every overload dropped, the function created, its
    checksum comment set. Plain SQL; no bind parameters (a colon is written as chr(58))."""
    statements = []
    for fn in ordered(fns):
        overloads = _OVERLOADS.replace("$name", literal(fn.name))
        comment = literal(fn.comment).replace(":", "' || chr(58) || '")
        # Every value in these is a literal() of a declared name or a hex digest.
        statements += [
            f"DO $drop$ DECLARE f regprocedure; t record; BEGIN FOR f IN {overloads} LOOP "  # noqa: S608
            "FOR t IN SELECT tgname, tgrelid::regclass AS tbl FROM pg_trigger "
            "WHERE tgfoid = f::oid AND NOT tgisinternal LOOP "
            "EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tbl); END LOOP; "
            "EXECUTE 'DROP FUNCTION ' || f; END LOOP; END $drop$",
            fn.text.rstrip().rstrip(";"),
            f"DO $comment$ BEGIN EXECUTE format('COMMENT ON FUNCTION %s IS %L', ({overloads}), "
            f"{comment}); END $comment$",
            *(trigger.rstrip().rstrip(";") for trigger in fn.triggers),
        ]
    return statements


def drop(conn: Connection, fns: Iterable[SqlFunction]) -> None:
    """Drops the declared functions (a downgrade to base), dependents first."""
    for fn in reversed(ordered(fns)):
        _drop_all(conn, _installed(conn, fn.name))


def _literal(value: str) -> str:
    # COMMENT takes no bind parameter; the value is a hex digest behind a fixed prefix.
    assert re.fullmatch(r"[\w:=]+", value), value
    return f"'{value}'"


# Helpers for the owners' params: Python constants written as SQL text.


def literal(value: str | int) -> str:
    """A constant as SQL: an int as is, a string (or StrEnum) single-quoted."""
    if isinstance(value, bool):
        raise TypeError("write booleans as true/false yourself")
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def in_list(values: Iterable[str | int]) -> str:
    """`('a', 'b')`, the right side of an IN."""
    return "(" + ", ".join(literal(v) for v in values) + ")"


def case(subject: str, whens: Mapping[str, str] | Mapping[int, str], default: str = "NULL") -> str:
    """`CASE subject WHEN k THEN v ... ELSE default END` from a mapping; keys and values
    become literals, `default` is SQL text."""
    arms = " ".join(f"WHEN {literal(k)} THEN {literal(v)}" for k, v in whens.items())
    return f"CASE {subject} {arms} ELSE {default} END"
