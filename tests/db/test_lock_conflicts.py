"""A deadlock between two transactions is told apart from other database errors: the API
answers 503 conflict_retry (nothing was committed, a resend succeeds) and presence changes
run their routing again (app/routing/presence.py)."""

import asyncio

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app.core.errors import database_unavailable, transient_conflict


async def test_a_real_deadlock_is_a_transient_conflict(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as a, engine.connect() as b:
            await a.execute(text("SELECT pg_advisory_xact_lock(424242)"))
            await b.execute(text("SELECT pg_advisory_xact_lock(434343)"))

            async def take(conn: AsyncConnection, key: int) -> BaseException | None:
                try:
                    await conn.execute(text(f"SELECT pg_advisory_xact_lock({key})"))
                except DBAPIError as exc:
                    await conn.rollback()  # the loser's locks go, the winner proceeds
                    return exc
                return None

            outcomes = await asyncio.gather(take(a, 434343), take(b, 424242))
        errors = [e for e in outcomes if e is not None]
        assert len(errors) == 1, outcomes  # PostgreSQL aborts exactly one of the two
        assert transient_conflict(errors[0])
        assert not database_unavailable(errors[0])
    finally:
        await engine.dispose()


def test_other_errors_are_not_conflicts() -> None:
    assert not transient_conflict(ValueError("no"))
    assert not transient_conflict(DBAPIError("SELECT 1", {}, Exception("syntax")))
