"""Long replies: accepted up to CHATCENTRE_MAX_MESSAGE_CHARS (20,000 by default), split at
queue time into messages of at most 4096, each its own outbox row: in order, once each (also
when the process that sent the first part is gone), at Telegram's pace of one a second per
chat. Against the fake Bot API with the app's real dispatcher."""

import asyncio
import itertools
from typing import Any

import pytest

from connectors import registry
from connectors.telegram.connector import TelegramConnector
from tests.conftest import Running
from tests.telegram.conftest import telegram_settings
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.helpers import messages
from tests.telegram.test_outbound import CHAT, conversation, reply, settled

__all__ = ["conversation"]  # the fixture, used by name


@pytest.fixture
def settings_overrides(fake_api: FakeBotApi) -> dict[str, Any]:
    values = telegram_settings(fake_api)
    del values["max_message_chars"]  # the default
    return values


def paragraphs(total: int) -> str:
    """Paragraphs of lines of words, about `total` characters."""
    line = "Доставка по городу занимает один-два дня, по области до четырёх.\n"
    paragraph = line * 9 + "\n"
    return (paragraph * (total // len(paragraph) + 1))[:total].rstrip() + " конец."


async def test_a_long_reply_goes_out_in_parts_in_order_once_at_the_chats_pace(
    run: Running, conversation: dict[str, Any], fake_api: FakeBotApi
) -> None:
    text = paragraphs(12_000)
    first_id = await reply(run, conversation, text)

    rows = await messages(run.client, conversation["admin"], conversation["id"])
    parts = [m for m in rows if m["direction"] == "outbound"]
    assert parts[0]["id"] == first_id
    assert len(parts) >= 3
    assert "".join(p["text"] for p in parts) == text
    for part in parts[:-1]:
        assert part["text"].endswith("\n\n")  # cut between paragraphs
    for part in parts:
        assert (await settled(run, conversation, part["id"], timeout=15))[
            "delivery_state"
        ] == "sent"

    calls = fake_api.calls_of("sendMessage")
    assert [c.params["text"] for c in calls] == [p["text"] for p in parts]  # once, in order
    assert all(len(c.params["text"]) <= 4096 for c in calls)
    assert fake_api.accepted[int(CHAT)] == [p["text"] for p in parts]
    gaps = [b.at - a.at for a, b in itertools.pairwise(calls)]
    assert min(gaps) >= 0.9, gaps  # Telegram: about one message a second per chat


async def test_20000_characters_are_accepted_and_more_is_a_clear_422(
    run: Running, conversation: dict[str, Any]
) -> None:
    await reply(run, conversation, "я" * 20_000)
    r = await run.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"text": "я" * 20_001},
        headers={"Authorization": f"Bearer {conversation['admin']}"},
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "text_too_long"


async def test_a_part_already_sent_is_not_sent_again_by_a_new_process(
    run: Running, conversation: dict[str, Any], fake_api: FakeBotApi
) -> None:
    """The second part fails; the process is replaced (a fresh connector remembers nothing)
    before the retry: the first part must not go out twice."""
    fake_api.fail_nth(
        "sendMessage", 2, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
    )
    text = paragraphs(9_000)
    await reply(run, conversation, text)
    while len(fake_api.calls_of("sendMessage")) < 2:
        await _tick()
    registry.register(TelegramConnector())  # as after a restart
    rows = await messages(run.client, conversation["admin"], conversation["id"])
    for part in [m for m in rows if m["direction"] == "outbound"]:
        assert (await settled(run, conversation, part["id"], timeout=15))[
            "delivery_state"
        ] == "sent"
    assert "".join(fake_api.accepted[int(CHAT)]) == text
    rows = await messages(run.client, conversation["admin"], conversation["id"])
    assert len(fake_api.accepted[int(CHAT)]) == len(
        [m for m in rows if m["direction"] == "outbound"]
    )


async def _tick() -> None:
    await asyncio.sleep(0.05)
