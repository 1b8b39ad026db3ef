"""Bots Long Poll steps against the fake VK: updates, the documented failures, resuming."""

import pytest

from connectors.base import InboundMessage, PermanentError, TemporaryError
from connectors.vk.client import LongPollServer, VkApi
from connectors.vk.longpoll import poll_once
from connectors.vk.parse import MessagePermission
from tests.connectors.vk.fake_vk import GROUP_ID, TOKEN, USER_ID, VK, FakeVk


def api(vk: FakeVk) -> VkApi:
    return VkApi(vk.api_base)


async def test_first_step_opens_a_session_and_returns_parsed_updates(vk: FakeVk) -> None:
    vk.lp_answers = [VK["lp_updates"]]
    result = await poll_once(api(vk), TOKEN, GROUP_ID, None, wait=1)
    [server_call] = vk.calls_of("groups.getLongPollServer")
    assert server_call.params["group_id"] == str(GROUP_ID)
    [request] = vk.lp_requests
    # The key goes in the body, like the token: never in a URL that gets logged.
    assert request == {"act": "a_check", "key": "lp-key-1", "ts": "1864", "wait": "1"}
    assert result.session == LongPollServer(f"{vk.base_url}/lp", "lp-key-1", "1866")
    assert not result.gap
    assert [u["type"] for u in result.updates] == ["message_new", "message_allow"]
    message, allow = result.events
    assert isinstance(message, InboundMessage)
    assert message.external_id == f"{GROUP_ID}:{USER_ID}:57"  # the Callback API's key
    assert allow == MessagePermission(str(USER_ID), True, "site_widget")


async def test_next_steps_reuse_the_session_and_resume_from_a_persisted_ts(vk: FakeVk) -> None:
    first = await poll_once(api(vk), TOKEN, GROUP_ID, None, persisted_ts="1800", wait=1)
    assert vk.lp_requests[0]["ts"] == "1800"
    assert first.session.ts == "1800" and first.updates == []
    vk.lp_answers = [VK["lp_empty"]]
    second = await poll_once(api(vk), TOKEN, GROUP_ID, first.session, wait=1)
    assert second.session.ts == "1866"
    assert len(vk.calls_of("groups.getLongPollServer")) == 1  # the session was kept


async def test_failed_1_goes_on_from_the_new_ts(vk: FakeVk) -> None:
    session = LongPollServer(f"{vk.base_url}/lp", "lp-key-1", "1000")
    vk.lp_answers = [VK["lp_failed_1"]]
    result = await poll_once(api(vk), TOKEN, GROUP_ID, session, wait=1)
    assert result.session == LongPollServer(f"{vk.base_url}/lp", "lp-key-1", "1900")
    assert result.gap and result.updates == []
    assert vk.calls_of("groups.getLongPollServer") == []


async def test_failed_2_gets_a_new_key_and_keeps_our_ts(vk: FakeVk) -> None:
    stale = LongPollServer(f"{vk.base_url}/lp", "lp-key-1", "1000")
    vk.lp_key, vk.lp_ts = "lp-key-2", "2000"  # the fake answers failed 2 to the old key
    result = await poll_once(api(vk), TOKEN, GROUP_ID, stale, wait=1)
    assert result.session == LongPollServer(f"{vk.base_url}/lp", "lp-key-2", "1000")
    assert not result.gap and result.updates == []
    vk.lp_answers = [VK["lp_updates"]]
    after = await poll_once(api(vk), TOKEN, GROUP_ID, result.session, wait=1)
    assert vk.lp_requests[-1]["ts"] == "1000" and len(after.events) == 2


async def test_failed_3_starts_over_with_a_new_key_and_ts(vk: FakeVk) -> None:
    session = LongPollServer(f"{vk.base_url}/lp", "lp-key-1", "1000")
    vk.lp_answers = [VK["lp_failed_3"]]
    vk.lp_ts = "5000"
    result = await poll_once(api(vk), TOKEN, GROUP_ID, session, wait=1)
    assert result.session == LongPollServer(f"{vk.base_url}/lp", "lp-key-1", "5000")
    assert result.gap


async def test_errors_leave_the_session_to_the_caller(vk: FakeVk) -> None:
    vk.answers["groups.getLongPollServer"] = [
        {"error": {"error_code": 100, "error_msg": "Long Poll is disabled for this community"}}
    ]
    with pytest.raises(PermanentError, match="Long Poll is disabled"):
        await poll_once(api(vk), TOKEN, GROUP_ID, None, wait=1)
    vk.lp_answers = [{"updates": []}]
    session = LongPollServer(f"{vk.base_url}/lp", "lp-key-1", "1000")
    with pytest.raises(TemporaryError, match="without a ts"):
        await poll_once(api(vk), TOKEN, GROUP_ID, session, wait=1)
    vk.lp_answers = [("sleep", 1.5)]
    with pytest.raises(TemporaryError, match="timed out"):
        # The client gives a_check its wait plus the call timeout: 1 + 0.2 s here.
        await poll_once(VkApi(vk.api_base, timeout=0.2), TOKEN, GROUP_ID, session, wait=1)
