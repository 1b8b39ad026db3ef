"""Long polling: one poller per bot (advisory lock), hand-over, offsets, network errors.

The workers' own poller supervisor is kept idle here (huge scan interval) so the tests
drive TelegramPoller instances themselves."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from app.db.engine import asyncpg_dsn
from app.telegram.poller import TelegramPoller
from tests.conftest import Running
from tests.telegram.conftest import telegram_settings
from tests.telegram.fake_bot_api import FakeBotApi, load_update
from tests.telegram.helpers import all_messages, create_bot


@pytest.fixture
def settings_overrides(fake_api: FakeBotApi) -> dict[str, Any]:
    return telegram_settings(fake_api, telegram_poll_scan_seconds=3600)


@pytest.fixture
async def polling_bot(run: Running, fake_api: FakeBotApi) -> dict[str, Any]:
    admin = await run.admin_token()
    channel = await create_bot(run.client, admin, mode="polling")
    return {"admin": admin, "id": channel["id"]}


@pytest.fixture
async def start_poller(run: Running) -> AsyncIterator[Callable[[str], Any]]:
    tasks: list[asyncio.Task[None]] = []

    def start(name: str) -> tuple[TelegramPoller, asyncio.Task[None]]:
        channel_id = run.ctx.extras["telegram_channel_id"]
        poller = TelegramPoller(run.ctx, channel_id, name=name)
        task = asyncio.create_task(poller.run_forever())
        tasks.append(task)
        return poller, task

    yield start
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def text_update(n: int) -> dict[str, Any]:
    update = load_update("update_text")
    update["update_id"] = 1000 + n
    update["message"]["message_id"] = 5000 + n
    update["message"]["text"] = f"message {n}"
    return update


async def until(check: Callable[[], Any], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def texts(run: Running, admin: str) -> list[str]:
    return [m["text"] for m in await all_messages(run.client, admin)]


async def stored_offset(run: Running, channel_id: int) -> Any:
    from app.channels.models import ChannelAccount

    async with run.ctx.sessions() as session:
        channel = await session.get(ChannelAccount, channel_id)
        assert channel is not None
        return channel.settings.get("poll_offset")


async def test_polled_updates_are_stored_and_then_confirmed(
    run: Running, fake_api: FakeBotApi, polling_bot: dict[str, Any], start_poller: Any
) -> None:
    run.ctx.extras["telegram_channel_id"] = polling_bot["id"]
    for name in ("update_text", "update_photo_caption", "update_callback_query"):
        fake_api.push_update(load_update(name))
    start_poller("a")
    await until(lambda: len(fake_api.calls_of("answerCallbackQuery")) == 1)
    got = await all_messages(run.client, polling_bot["admin"])
    assert [m["kind"] for m in got] == ["text", "image", "button"]
    # The next poll carries the offset (stored with the batch), which tells Telegram to
    # forget the batch; then the offset is cleared and polls carry none.
    await until(
        lambda: any(c.params.get("offset") == "904711208" for c in fake_api.calls_of("getUpdates"))
    )
    assert fake_api.pending["7012345678:AAHfakeTokenForTests_0123456789abcdef"] == []
    await until(lambda: _offset_is(run, polling_bot["id"], None))
    await until(lambda: "offset" not in fake_api.calls_of("getUpdates")[-1].params)
    assert set(fake_api.delivered.values()) == {1}


async def _offset_is(run: Running, channel_id: int, expected: Any) -> bool:
    return bool(await stored_offset(run, channel_id) == expected)


async def test_an_update_with_a_lower_id_is_not_lost(
    run: Running, fake_api: FakeBotApi, polling_bot: dict[str, Any], start_poller: Any
) -> None:
    """After a week without updates Telegram picks the next update id at random, so it may
    be lower than the last one seen: it must be stored like any other."""
    run.ctx.extras["telegram_channel_id"] = polling_bot["id"]
    fake_api.push_update(text_update(500))
    start_poller("a")
    await until(lambda: _same(texts(run, polling_bot["admin"]), ["message 500"]))
    await until(lambda: _offset_is(run, polling_bot["id"], None))  # update 1500 confirmed

    later = text_update(1)
    later["update_id"] = 17  # a fresh random id, far below 1500
    fake_api.push_update(later)
    await until(lambda: _same(texts(run, polling_bot["admin"]), ["message 500", "message 1"]))
    assert fake_api.delivered[17] == 1


async def test_two_pollers_one_polls_and_hand_over_loses_and_repeats_nothing(
    run: Running, fake_api: FakeBotApi, polling_bot: dict[str, Any], start_poller: Any
) -> None:
    run.ctx.extras["telegram_channel_id"] = polling_bot["id"]
    a, a_task = start_poller("a")
    b, b_task = start_poller("b")
    await until(lambda: a.is_leader or b.is_leader)
    await asyncio.sleep(0.5)  # give the standby several chances to try
    assert a.is_leader != b.is_leader
    assert fake_api.max_polls_in_flight == 1

    for n in range(10):
        fake_api.push_update(text_update(n))
        await asyncio.sleep(0.02)
    await until(lambda: fake_api.delivered.get(1009, 0) >= 1)
    leader_task, standby = (a_task, b) if a.is_leader else (b_task, a)
    # Kill the leader mid-stream: more updates keep arriving during the hand-over.
    leader_task.cancel()
    for n in range(10, 20):
        fake_api.push_update(text_update(n))
    await until(lambda: standby.is_leader)
    for n in range(20, 25):
        fake_api.push_update(text_update(n))

    expected = [f"message {n}" for n in range(25)]
    await until(lambda: _same(texts(run, polling_bot["admin"]), expected))
    assert await texts(run, polling_bot["admin"]) == expected
    assert fake_api.max_polls_in_flight == 1
    await until(lambda: _offset_is(run, polling_bot["id"], None))  # all 25 confirmed


async def _same(got: Any, expected: list[str]) -> bool:
    return sorted(await got) == sorted(expected)


async def test_losing_the_lock_connection_hands_over(
    run: Running, fake_api: FakeBotApi, polling_bot: dict[str, Any], start_poller: Any
) -> None:
    """A process whose database connection dies (as if the process were killed) loses the
    lock with it; the standby takes over."""
    run.ctx.extras["telegram_channel_id"] = polling_bot["id"]
    a, _ = start_poller("a")
    await until(lambda: a.is_leader)
    b, _ = start_poller("b")
    fake_api.push_update(text_update(1))
    await until(lambda: _same(texts(run, polling_bot["admin"]), ["message 1"]))

    conn = await asyncpg.connect(asyncpg_dsn(run.ctx.database_url))
    try:
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(l.pid)) FROM pg_locks l "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid() "
            # Only this test database's: the server may be shared with other test runs.
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    finally:
        await conn.close()
    assert killed == 1
    fake_api.push_update(text_update(2))
    await until(lambda: _same(texts(run, polling_bot["admin"]), ["message 1", "message 2"]))
    # The old leader may store update 2 before its next check of the lock connection finds
    # it dead; for a moment after that nobody leads (the standby retries every 0.1 s).
    await until(lambda: b.is_leader or a.is_leader)
    assert await texts(run, polling_bot["admin"]) == ["message 1", "message 2"]


async def test_network_errors_and_restarts_lose_nothing(
    run: Running, fake_api: FakeBotApi, polling_bot: dict[str, Any], start_poller: Any
) -> None:
    run.ctx.extras["telegram_channel_id"] = polling_bot["id"]
    fake_api.fail("getUpdates", 502)
    fake_api.fail_raw("getUpdates", 502, "<html>Bad Gateway</html>")
    fake_api.disconnect("getUpdates")
    fake_api.fail(
        "getUpdates",
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        },
    )
    fake_api.push_update(text_update(1))
    _, task = start_poller("a")
    await until(lambda: _same(texts(run, polling_bot["admin"]), ["message 1"]))

    # A restart: the new process starts from the stored offset, nothing comes twice.
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    fake_api.push_update(text_update(2))
    calls_before = len(fake_api.calls_of("getUpdates"))
    start_poller("restarted")
    await until(lambda: _same(texts(run, polling_bot["admin"]), ["message 1", "message 2"]))
    assert await texts(run, polling_bot["admin"]) == ["message 1", "message 2"]
    after = fake_api.calls_of("getUpdates")[calls_before:]
    assert after and all(int(c.params.get("offset", 1002)) >= 1002 for c in after)


# The database, not the test, refuses two messages: "message 2" as a deadlock victim twice
# (PostgreSQL's own SQLSTATE, as a lock cycle with another transaction would give), then it
# goes in; "message 3" always, as a value our schema cannot take.
_REFUSE = """
CREATE SEQUENCE test_deadlocks;
CREATE FUNCTION test_refuse_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.text = 'message 2' AND nextval('test_deadlocks') <= 2 THEN
        RAISE EXCEPTION 'deadlock detected (the test)' USING ERRCODE = '40P01';
    END IF;
    IF NEW.text = 'message 3' THEN
        RAISE EXCEPTION 'refused by the test' USING ERRCODE = '22023';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER test_refuse_messages BEFORE INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION test_refuse_messages();
"""
_ALLOW = """
DROP TRIGGER test_refuse_messages ON messages;
DROP FUNCTION test_refuse_messages();
DROP SEQUENCE test_deadlocks;
"""


async def test_a_deadlock_refetches_the_batch_and_only_a_refused_update_is_skipped(
    run: Running, fake_api: FakeBotApi, polling_bot: dict[str, Any], start_poller: Any
) -> None:
    """An update our database refuses is skipped (it would block the bot's queue forever);
    one that lost a deadlock is not the update's fault: the batch is fetched and stored
    again, and nothing is lost or stored twice."""
    run.ctx.extras["telegram_channel_id"] = polling_bot["id"]
    conn = await asyncpg.connect(asyncpg_dsn(run.ctx.database_url))
    try:
        await conn.execute(_REFUSE)
        for n in (1, 2, 3, 4):
            fake_api.push_update(text_update(n))
        start_poller("a")
        stored = ["message 1", "message 2", "message 4"]
        await until(lambda: _same(texts(run, polling_bot["admin"]), stored))
        await until(lambda: _offset_is(run, polling_bot["id"], None))  # the batch confirmed
        assert sorted(await texts(run, polling_bot["admin"])) == stored  # each once
        assert fake_api.delivered[1002] == 3  # two deadlocks, then stored
    finally:
        await conn.execute(_ALLOW)
        await conn.close()
