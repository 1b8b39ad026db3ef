"""Provider limits are per channel account, and each process counts its own sends: so one
process at a time sends for a channel (an advisory lock held on its own connection), and
another takes over when that process goes away."""

import asyncio
from typing import Any

import pytest

from app.core.context import build_context
from app.delivery.dispatcher import Dispatcher, leases_of
from tests.conftest import Running
from tests.delivery.test_dispatcher import Provider, one, open_conversation, provider, reply
from tests.helpers import create_webchat

__all__ = ["provider"]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def drain(dispatcher: Dispatcher, rounds: int = 50) -> int:
    handled = 0
    for _ in range(rounds):
        n = await dispatcher.run_once()
        handled += n
        if n == 0:
            break
    return handled


async def test_one_process_sends_for_a_channel_and_another_takes_over(
    run: Running, provider: Provider
) -> None:
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    convs = [await open_conversation(run, admin, key, f"v{i}") for i in range(5)]
    for c in convs:
        await reply(run, admin, c, "first")

    other = build_context(run.ctx.settings)  # a second "process": its own leases
    try:
        here, there = Dispatcher(run.ctx), Dispatcher(other)
        done_here, done_there = await asyncio.gather(drain(here), drain(there))
        # Exactly one of them holds the channel's lease and sent everything.
        assert sorted([done_here, done_there]) == [0, 5]
        holder, standby = (here, there) if done_here else (there, here)

        for c in convs:
            await reply(run, admin, c, "second")
        assert await drain(standby) == 0  # still not its channel
        await leases_of(holder.ctx).close()  # the holder's process goes away
        assert await drain(standby) == 5
        left = await one(run, "SELECT count(*) FROM outbox")
        assert left is not None and left[0] == 0
        assert len(provider.calls) == len(set(provider.calls)) == 10
    finally:
        await other.close()
