"""Bots Long Poll: events end to end, VK's failed 1/2/3 answers, one poller per community
(advisory lock) with a hand-over that loses and repeats nothing.

The workers' own poller supervisor is kept idle here (huge scan interval) so the tests
drive VkPoller instances themselves, each with its own lock connection, as two processes
would."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY

from app.channels.models import ChannelAccount
from app.vk.poller import VkPoller
from tests.conftest import Running
from tests.connectors.vk.fake_vk import SECRET, TOKEN, FakeVk
from tests.vk.conftest import vk_settings
from tests.vk.helpers import create_community, event, messages, post, until


@pytest.fixture
def settings_overrides(vk: FakeVk) -> dict[str, Any]:
    return vk_settings(vk, vk_poll_scan_seconds=3600)


@pytest.fixture
async def polling(run: Running, vk: FakeVk) -> dict[str, Any]:
    admin = await run.admin_token()
    channel = await create_community(
        run.client, admin, mode="longpoll", credentials={"access_token": TOKEN}
    )
    return {"admin": admin, "id": channel["id"], "channel": channel}


@pytest.fixture
async def start_poller(
    run: Running, polling: dict[str, Any]
) -> AsyncIterator[Callable[[str], tuple[VkPoller, asyncio.Task[None]]]]:
    tasks: list[asyncio.Task[None]] = []

    def start(name: str) -> tuple[VkPoller, asyncio.Task[None]]:
        poller = VkPoller(run.ctx, polling["id"], name=name)
        task = asyncio.create_task(poller.run_forever())
        tasks.append(task)
        return poller, task

    yield start
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def numbered(n: int) -> dict[str, Any]:
    body = event("message_new_text", conversation_message_id=100 + n, id=3000 + n)
    body["object"]["message"]["text"] = f"message {n}"
    del body["secret"]  # Long Poll events carry none
    return body


async def texts(run: Running, admin: str) -> list[str]:
    return sorted(m["text"] for m in await messages(run.client, admin))


def expect(run: Running, admin: str, wanted: list[str]) -> Callable[[], Any]:
    async def check() -> bool:
        return await texts(run, admin) == sorted(wanted)

    return check


async def stored_ts(run: Running, channel_id: int) -> Any:
    async with run.ctx.sessions() as session:
        channel = await session.get(ChannelAccount, channel_id)
        assert channel is not None
        return channel.settings.get("lp_ts")


def failed_count(kind: str) -> float:
    value = REGISTRY.get_sample_value("chatcentre_vk_long_poll_failed_total", {"failed": kind})
    return value or 0.0


async def test_long_poll_end_to_end_with_failed_1_2_and_3(
    run: Running, vk: FakeVk, polling: dict[str, Any], start_poller: Any
) -> None:
    admin, channel_id = polling["admin"], polling["id"]
    assert polling["channel"]["settings"]["mode"] == "longpoll"
    assert "secret" not in polling["channel"]["credential_names"]
    assert len(vk.calls_of("groups.setLongPollSettings")) == 1  # switched on at setup
    before = {k: failed_count(k) for k in ("1", "2", "3")}

    start_poller("a")
    # A new channel starts from VK's present (its first ts is stored), then gets what comes.
    await until(lambda: _ts_is(run, channel_id, vk.current_ts()))
    vk.push_event(numbered(0))
    allow = event("message_allow")
    del allow["secret"]
    vk.push_event(allow)
    await until(expect(run, admin, ["message 0"]))
    await until(lambda: _ts_is(run, channel_id, vk.current_ts()))

    # failed 1: history partly lost; VK says where to go on from.
    vk.lp_answers.append({"failed": 1, "ts": vk.current_ts()})
    vk.push_event(numbered(1))
    await until(expect(run, admin, ["message 0", "message 1"]))

    # failed 2: the key expired; a new one, our ts kept, so nothing between is lost.
    vk.lp_key = "lp-key-2"
    vk.push_event(numbered(2))
    await until(expect(run, admin, ["message 0", "message 1", "message 2"]))

    # failed 3: everything lost; a new key and ts, and it goes on.
    vk.lp_answers.append({"failed": 3})
    await until(lambda: failed_count("3") > before["3"])
    vk.push_event(numbered(3))
    await until(expect(run, admin, [f"message {n}" for n in range(4)]))
    assert failed_count("1") == before["1"] + 1
    assert failed_count("2") >= before["2"] + 1
    await until(lambda: _ts_is(run, channel_id, vk.current_ts()))
    # The same store as the webhook: the allow is on the identity, the name from users.get.
    assert len(vk.calls_of("users.get")) == 1
    # A Long Poll channel takes no Callback events (it has no secret).
    assert (await post(run.client, channel_id, event("message_new_text"))).status_code == 403
    assert SECRET not in str(polling["channel"])


async def _ts_is(run: Running, channel_id: int, expected: str) -> bool:
    return bool(await stored_ts(run, channel_id) == expected)


async def test_two_pollers_one_reads_and_hand_over_loses_and_repeats_nothing(
    run: Running, vk: FakeVk, polling: dict[str, Any], start_poller: Any
) -> None:
    admin = polling["admin"]
    a, a_task = start_poller("a")
    b, b_task = start_poller("b")
    await until(lambda: a.is_leader or b.is_leader)
    await until(lambda: _ts_is(run, polling["id"], vk.current_ts()))
    await asyncio.sleep(0.5)  # give the standby several chances to try
    assert a.is_leader != b.is_leader
    assert vk.lp_max_in_flight == 1

    for n in range(10):
        vk.push_event(numbered(n))
        await asyncio.sleep(0.02)
    await until(expect(run, admin, [f"message {n}" for n in range(10)]))
    leader_task, standby = (a_task, b) if a.is_leader else (b_task, a)
    leader_task.cancel()  # the leading process dies; events keep coming meanwhile
    for n in range(10, 20):
        vk.push_event(numbered(n))
    await until(lambda: standby.is_leader)
    for n in range(20, 25):
        vk.push_event(numbered(n))
    await until(expect(run, admin, [f"message {n}" for n in range(25)]))
    assert await texts(run, admin) == sorted(f"message {n}" for n in range(25))
    assert vk.lp_max_in_flight == 1


async def test_a_poller_stops_when_the_channel_is_deactivated(
    run: Running, vk: FakeVk, polling: dict[str, Any], start_poller: Any
) -> None:
    from tests.helpers import auth

    poller, task = start_poller("a")
    await until(lambda: poller.is_leader)
    r = await run.client.patch(
        f"/api/v1/channels/{polling['id']}",
        json={"is_active": False},
        headers=auth(polling["admin"]),
    )
    assert r.status_code == 200, r.text
    vk.push_event(numbered(1))
    await asyncio.wait_for(task, 10)
    assert await texts(run, polling["admin"]) == []
