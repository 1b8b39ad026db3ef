"""The engine's pool keeps every connection it opens (issue 22): a connection closed after a
burst is a new PostgreSQL backend in the next one, which recompiles and re-plans the plpgsql
functions it calls. Under load a process opens up to twice db_pool_size, and no more."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running

POOL = 3


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"db_pool_size": POOL, "run_workers": False}


async def _burst(run: Running, width: int) -> set[int]:
    """`width` connections held at once; the backends that served them."""
    everyone_holds = asyncio.Barrier(width)
    pids: set[int] = set()

    async def hold() -> None:
        async with run.ctx.engine.connect() as conn:
            pids.add(int(await conn.scalar(text("SELECT pg_backend_pid()"))))
            await everyone_holds.wait()

    await asyncio.wait_for(asyncio.gather(*(hold() for _ in range(width))), 30)
    return pids


async def test_a_burst_reuses_the_backends_the_last_one_opened(run: Running) -> None:
    first = await _burst(run, 2 * POOL)
    assert len(first) == 2 * POOL
    second = await _burst(run, 2 * POOL)
    assert second == first  # no backend closed between bursts, none opened for the second


async def test_no_more_than_twice_the_pool_is_opened(run: Running) -> None:
    with pytest.raises(TimeoutError):
        # A seventh holder waits for a free connection (and the barrier never fills).
        await asyncio.wait_for(_burst(run, 2 * POOL + 1), 3)
