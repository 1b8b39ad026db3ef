"""A provider outage: the Telegram Bot API fails for a while, and operators keep replying.

The app runs under uvicorn with its real dispatchers; replies go in through the reply
endpoint; the real Telegram connector (aiogram) sends them to a fake Bot API on loopback
that is made to fail on command: 502 for a while, requests held longer than the client's
timeout, a storm of 429 Too Many Requests with retry_after. When it recovers, every reply is
delivered by itself (no restart, no operator action), exactly once, in each chat's order;
attempts stay under CHATCENTRE_OUTBOX_MAX_ATTEMPTS; during a 429 the bot sends nothing
until retry_after has passed. A chat whose sends keep failing ends `failed` after the
configured attempts, with the reason visible through the API, and does not hold up others."""

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from tests.conftest import LiveServer, Running
from tests.faults.support import wait_for
from tests.helpers import auth
from tests.telegram.conftest import telegram_settings
from tests.telegram.fake_bot_api import Call, FakeBotApi, Outage, load_update
from tests.telegram.helpers import conversations, create_bot, deliver, messages, secret_of

CHATS = 6
ROUNDS = 6  # replies per chat: 36 in all
MAX_ATTEMPTS = 8  # the default of CHATCENTRE_OUTBOX_MAX_ATTEMPTS
SEND_TIMEOUT = 0.4  # the client's Bot API timeout; a held request outlasts it
OUTAGE = 1.5  # seconds the provider is down
RETRY_AFTER = 1  # seconds, in every 429
FIRST_CHAT = 700_000


@pytest.fixture
def settings_overrides(fake_api: FakeBotApi) -> dict[str, Any]:
    return telegram_settings(
        fake_api,
        outbox_max_attempts=MAX_ATTEMPTS,
        # Backoff 0.2 s doubling up to 1 s (plus jitter): an outage of 1.5 s costs a chat's
        # first reply a handful of attempts, well under the limit.
        outbox_backoff_initial_seconds=0.2,
        outbox_backoff_max_seconds=1.0,
        telegram_send_timeout_seconds=SEND_TIMEOUT,
        dispatcher_idle_poll_seconds=0.1,
    )


class Chats:
    """A bot with CHATS private chats, each with an open conversation."""

    def __init__(self, live: LiveServer, admin: str, conversation_of: dict[int, int]):
        self.live = live
        self.admin = admin
        self.conversation_of = conversation_of  # Telegram chat id -> conversation id
        self.expected: dict[int, list[str]] = {chat: [] for chat in conversation_of}
        self.message_ids: dict[str, int] = {}

    async def reply(self, chat: int, text: str) -> int:
        r = await self.live.client.post(
            f"/api/v1/conversations/{self.conversation_of[chat]}/messages",
            json={"text": text},
            headers=auth(self.admin),
        )
        assert r.status_code == 201, r.text
        assert r.json()["delivery_state"] == "queued"
        self.expected[chat].append(text)
        self.message_ids[text] = int(r.json()["id"])
        return self.message_ids[text]

    async def round(self, k: int) -> None:
        for chat in self.conversation_of:
            await self.reply(chat, f"chat {chat} reply {k:02d}")

    async def states(self) -> dict[str, tuple[str, str | None]]:
        """Our text -> (delivery state, failure reason), as the API shows them."""
        out: dict[str, tuple[str, str | None]] = {}
        for conversation_id in self.conversation_of.values():
            for m in await messages(self.live.client, self.admin, conversation_id):
                if m["direction"] == "outbound":
                    out[m["text"]] = (m["delivery_state"], m["failure_reason"])
        return out


async def open_chats(live: LiveServer, fake: FakeBotApi, count: int = CHATS) -> Chats:
    admin = await Running(app=None, ctx=live.ctx, client=live.client).admin_token()  # type: ignore[arg-type]
    # Telegram's 1 message/s per chat would make this test slow, not stricter: raised.
    channel = await create_bot(live.client, admin, rate_per_chat="100/second")
    conversation_of: dict[int, int] = {}
    seen: set[int] = set()
    for i in range(count):
        chat = FIRST_CHAT + i
        update = load_update("update_text")
        update["update_id"] += i
        update["message"]["message_id"] += i
        update["message"]["from"]["id"] = update["message"]["chat"]["id"] = chat
        r = await deliver(live.client, channel["id"], update, secret_of(fake))
        assert r.status_code == 200, r.text
        [new] = {c["id"] for c in await conversations(live.client, admin)} - seen
        seen.add(new)
        conversation_of[chat] = new
    return Chats(live, admin, conversation_of)


def sends(fake: FakeBotApi) -> list[Call]:
    return fake.calls_of("sendMessage")


async def all_settled(chats: Chats, total: int) -> dict[str, tuple[str, str | None]] | None:
    states = await chats.states()
    if len(states) == total and all(s != "queued" for s, _ in states.values()):
        return states
    return None


def check_delivered_once_in_order(chats: Chats, fake: FakeBotApi) -> None:
    """Nothing lost, nothing twice, each chat in the order the operator wrote."""
    for chat, texts in chats.expected.items():
        assert fake.accepted[chat] == texts, (chat, fake.accepted[chat], texts)
    tries = Counter(c.params["text"] for c in sends(fake))
    worst = max(tries.values())
    assert worst <= MAX_ATTEMPTS, tries.most_common(3)


def check_retry_after_honoured(fake: FakeBotApi) -> int:
    """After a 429 the bot sends nothing until retry_after has passed (calls already on the
    wire when the 429 came back may still arrive a moment later). Returns how many 429s."""
    slack = 0.25
    refused = [c for c in sends(fake) if c.status == 429]
    for c in refused:
        assert c.answered_at is not None
        too_soon = [
            d
            for d in sends(fake)
            if c.answered_at + slack < d.at < c.answered_at + RETRY_AFTER - 0.05
        ]
        assert not too_soon, (
            f"429 answered at {c.answered_at:.3f} (retry after {RETRY_AFTER}s), yet sends "
            f"arrived at {[round(d.at - c.answered_at, 3) for d in too_soon]} s after it"
        )
    return len(refused)


@pytest.mark.parametrize("kind", ["5xx", "timeout", "429"])
async def test_sends_resume_in_order_and_once_after_an_outage(
    live: LiveServer, fake_api: FakeBotApi, kind: str
) -> None:
    chats = await open_chats(live, fake_api)
    total = CHATS * ROUNDS
    started = time.monotonic()
    fake_api.outage = Outage(kind, retry_after=RETRY_AFTER, delay=SEND_TIMEOUT * 10)
    # Replies keep coming during the outage: half at once, more while it lasts.
    for k in range(ROUNDS // 2):
        await chats.round(k)
    await asyncio.sleep(OUTAGE / 2)
    for k in range(ROUNDS // 2, ROUNDS - 1):
        await chats.round(k)
    await asyncio.sleep(max(0.0, started + OUTAGE - time.monotonic()))

    # Down the whole time: sends were tried and refused, nothing got through.
    refused = [c for c in sends(fake_api) if c.status != 200]
    assert not any(fake_api.accepted.values())
    if kind == "429":
        # The first 429 holds the whole bot: the other chats wait without being tried.
        assert refused
    else:
        assert {int(c.params["chat_id"]) for c in refused} == set(chats.conversation_of)
    if kind == "timeout":
        assert all(c.status == 0 for c in refused)  # the client gave up on every one
    states = await chats.states()
    assert {s for s, _ in states.values()} == {"queued"}, states

    fake_api.outage = None  # the provider recovers
    recovered = time.monotonic()
    await chats.round(ROUNDS - 1)  # and one more reply per chat, behind the queued ones

    settled = await wait_for(lambda: all_settled(chats, total), timeout=30, interval=0.1)
    drained = time.monotonic() - recovered
    assert {s for s, _ in settled.values()} == {"sent"}, settled
    check_delivered_once_in_order(chats, fake_api)
    extra = f", {check_retry_after_honoured(fake_api)} answered 429" if kind == "429" else ""
    tries = Counter(c.params["text"] for c in sends(fake_api))
    print(
        f"\nprovider outage ({kind}, {OUTAGE}s): {total} replies in {CHATS} chats, "
        f"{len(refused)} sends refused{extra}, at most {max(tries.values())} attempts for one "
        f"message, all sent {drained:.1f}s after recovery; lost 0, duplicated 0"
    )


async def test_a_chat_whose_sends_keep_failing_ends_failed_with_its_reason(
    live: LiveServer, fake_api: FakeBotApi
) -> None:
    chats = await open_chats(live, fake_api, count=3)
    dead, *alive = chats.conversation_of
    fake_api.outage = Outage("5xx", chat_ids=frozenset({dead}))
    await chats.reply(dead, "to the dead chat 1")
    await chats.reply(dead, "to the dead chat 2")
    for chat in alive:
        await chats.reply(chat, f"to {chat} 1")
        await chats.reply(chat, f"to {chat} 2")

    # The other chats are not held up by the failing one.
    async def others_sent() -> bool:
        return all(fake_api.accepted[chat] == chats.expected[chat] for chat in alive)

    await wait_for(others_sent, timeout=5)
    assert (await chats.states())["to the dead chat 1"] == ("queued", None)

    async def first_failed() -> Any:
        state = (await chats.states())["to the dead chat 1"]
        return state if state[0] != "queued" else None

    state, reason = await wait_for(first_failed, timeout=30, interval=0.1)
    assert state == "failed"
    assert reason is not None
    assert reason.startswith(f"gave up after {MAX_ATTEMPTS} attempts"), reason
    assert "Bad Gateway" in reason, reason
    tries = Counter(c.params["text"] for c in sends(fake_api))
    assert tries["to the dead chat 1"] == MAX_ATTEMPTS  # bounded, and used in full
    # The failure is visible on the conversation's messages for whoever reads them.
    r = await live.client.get(
        f"/api/v1/conversations/{chats.conversation_of[dead]}/messages",
        headers=auth(chats.admin),
    )
    [failed] = [m for m in r.json()["items"] if m["text"] == "to the dead chat 1"]
    assert failed["delivery_state"] == "failed" and failed["failure_reason"] == reason

    # The next message of that chat was waiting behind it; the chat comes back.
    fake_api.outage = None
    await wait_for(lambda: all_settled(chats, 6), timeout=30, interval=0.1)
    assert fake_api.accepted[dead] == ["to the dead chat 2"]
    assert (await chats.states())["to the dead chat 2"] == ("sent", None)
    for chat in alive:
        assert fake_api.accepted[chat] == chats.expected[chat]  # once each, in order
