"""The outbox dispatcher against a stand-in provider: retries, permanent failures, giving up,
and exactly-once, in-order delivery with several dispatchers racing on one outbox.

The app runs no dispatchers of its own here; each test drives Dispatcher.run_once()."""

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from app.delivery.dispatcher import Dispatcher
from connectors import registry
from connectors.base import OutboundMessage, PermanentError, SendResult, TemporaryError
from tests.conftest import Running
from tests.helpers import auth, create_webchat, visitor_post, visitor_session

MAX_ATTEMPTS = 3


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False, "outbox_max_attempts": MAX_ATTEMPTS}


SendHook = Callable[[OutboundMessage, int], Awaitable[None]]


class Provider:
    """Stands for the outside provider behind the webchat channel type."""

    channel_type = "webchat"

    def __init__(self) -> None:
        self.calls: list[int] = []  # message ids, in the order send() was called
        self.sent: list[int] = []  # message ids whose send() succeeded
        self.hook: SendHook | None = None

    async def send(
        self, credentials: dict[str, Any], settings: dict[str, Any], message: OutboundMessage
    ) -> SendResult:
        self.calls.append(message.message_id)
        if self.hook is not None:
            await self.hook(message, self.calls.count(message.message_id))
        self.sent.append(message.message_id)
        return SendResult(provider_message_id=f"prov-{message.message_id}")


@pytest.fixture
def provider() -> Iterator[Provider]:
    original = registry.get_connector("webchat")
    stand_in = Provider()
    registry.register(stand_in)
    try:
        yield stand_in
    finally:
        registry.register(original)
    assert registry.get_connector("webchat") is original


async def open_conversation(run: Running, admin: str, key: str, name: str = "Anna") -> int:
    token = (await visitor_session(run.client, key, name=name))["visitor_token"]
    r = await visitor_post(run.client, key, token, f"hello from {name}", "c1")
    assert r.status_code == 201, r.text
    conversation_id: int = r.json()["message"]["conversation_id"]
    return conversation_id


async def reply(run: Running, admin: str, conversation_id: int, body: str) -> int:
    r = await run.client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": body},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    assert r.json()["delivery_state"] == "queued"
    message_id: int = r.json()["id"]
    return message_id


async def one(run: Running, sql: str, **params: Any) -> Any:
    async with run.ctx.sessions() as session:
        return (await session.execute(text(sql), params)).first()


async def api_message(run: Running, admin: str, conversation_id: int, message_id: int) -> dict:
    r = await run.client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    [found] = [m for m in r.json()["items"] if m["id"] == message_id]
    return dict(found)


async def wait_until_due(run: Running, message_id: int, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        row = await one(
            run, "SELECT due_at <= now() FROM outbox WHERE message_id = :id", id=message_id
        )
        if row is None or row[0]:
            return
        assert loop.time() < deadline, "the retry never came due"
        await asyncio.sleep(0.02)


async def setup_reply(run: Running) -> tuple[str, int, int]:
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    conversation_id = await open_conversation(run, admin, key)
    message_id = await reply(run, admin, conversation_id, "It ships tomorrow.")
    return admin, conversation_id, message_id


async def test_temporary_error_is_retried_then_sent(run: Running, provider: Provider) -> None:
    admin, conversation_id, message_id = await setup_reply(run)

    async def fail_first(message: OutboundMessage, attempt: int) -> None:
        if attempt == 1:
            raise ConnectionError("provider unreachable")

    provider.hook = fail_first
    # A delay no loaded machine runs past before the "not due yet" check below; the test
    # then lets the time pass by moving the retry's due time to now.
    run.ctx.settings.outbox_backoff_initial_seconds = 30.0
    dispatcher = Dispatcher(run.ctx)
    assert await dispatcher.run_once() == 1
    assert provider.calls == [message_id] and provider.sent == []

    row = await one(
        run,
        "SELECT attempts, last_error, due_at > now() FROM outbox WHERE message_id = :id",
        id=message_id,
    )
    assert row is not None
    attempts, last_error, in_future = row
    assert attempts == 1
    assert last_error and "provider unreachable" in last_error
    assert in_future is True
    state = await api_message(run, admin, conversation_id, message_id)
    assert state["delivery_state"] == "queued"

    # Not due yet: nothing is claimed.
    assert await dispatcher.run_once() == 0
    async with run.ctx.sessions() as session:
        await session.execute(
            text("UPDATE outbox SET due_at = now() WHERE message_id = :id"), {"id": message_id}
        )
        await session.commit()
    assert await dispatcher.run_once() == 1
    assert provider.sent == [message_id]

    assert await one(run, "SELECT 1 FROM outbox WHERE message_id = :id", id=message_id) is None
    row = await one(
        run,
        "SELECT delivery_state, provider_message_id, sent_at FROM messages WHERE id = :id",
        id=message_id,
    )
    assert row is not None
    assert row[0] == "sent" and row[1] == f"prov-{message_id}" and row[2] is not None
    assert (await api_message(run, admin, conversation_id, message_id))["delivery_state"] == "sent"
    assert await dispatcher.run_once() == 0


async def test_retry_after_is_honoured(run: Running, provider: Provider) -> None:
    _, _, message_id = await setup_reply(run)

    async def rate_limited(message: OutboundMessage, attempt: int) -> None:
        raise TemporaryError("429 too many requests", retry_after=30)

    provider.hook = rate_limited
    assert await Dispatcher(run.ctx).run_once() == 1
    row = await one(
        run,
        "SELECT attempts, EXTRACT(EPOCH FROM due_at - now()) FROM outbox WHERE message_id = :id",
        id=message_id,
    )
    assert row is not None and row[0] == 1
    assert 25 < float(row[1]) <= 31


async def test_a_429_holds_every_chat_of_its_channel_until_retry_after(
    run: Running, provider: Provider
) -> None:
    """A 429 is the provider refusing the sender, not one message: until retry_after has
    passed nothing more goes out for that channel account (not even rows claimed in the same
    batch, which are put back without using an attempt); other channels carry on."""
    admin = await run.admin_token()
    held_key = (await create_webchat(run.client, admin))["public_key"]
    other_key = (await create_webchat(run.client, admin))["public_key"]
    first = await open_conversation(run, admin, held_key, "Ann")
    second = await open_conversation(run, admin, held_key, "Bob")
    elsewhere = await open_conversation(run, admin, other_key, "Cid")
    refused = await reply(run, admin, first, "one")
    waiting = await reply(run, admin, second, "two")
    other = await reply(run, admin, elsewhere, "three")

    async def flood_limit(message: OutboundMessage, attempt: int) -> None:
        if message.message_id == refused and attempt == 1:
            raise TemporaryError("Too Many Requests: retry after 1", retry_after=1)

    provider.hook = flood_limit
    dispatcher = Dispatcher(run.ctx)
    # One at a time, so the 429 comes back before the next send of the batch starts.
    run.ctx.settings.dispatcher_sends_in_flight = 1
    assert await dispatcher.run_once() == 3
    assert provider.calls == [refused, other]  # `waiting` was held back, not sent
    assert provider.sent == [other]
    row = await one(
        run,
        "SELECT attempts, claimed_until IS NULL, due_at > now() FROM outbox WHERE message_id = :id",
        id=waiting,
    )
    assert row is not None and tuple(row) == (0, True, True)  # no attempt used
    # During the hold the channel is not even claimed.
    assert await dispatcher.run_once() == 0
    await wait_until_due(run, refused)
    await wait_until_due(run, waiting)
    while await dispatcher.run_once():
        pass
    assert sorted(provider.sent) == sorted([other, refused, waiting])
    assert provider.calls.count(refused) == 2 and provider.calls.count(waiting) == 1


async def test_permanent_error_fails_at_once(run: Running, provider: Provider) -> None:
    admin, conversation_id, message_id = await setup_reply(run)

    async def blocked(message: OutboundMessage, attempt: int) -> None:
        raise PermanentError("bot was blocked by the user", recipient_unreachable=True)

    provider.hook = blocked
    assert await Dispatcher(run.ctx).run_once() == 1
    assert provider.calls == [message_id]

    state = await api_message(run, admin, conversation_id, message_id)
    assert state["delivery_state"] == "failed"
    assert state["failure_reason"] == "bot was blocked by the user"
    assert await one(run, "SELECT 1 FROM outbox WHERE message_id = :id", id=message_id) is None

    row = await one(
        run,
        "SELECT reaction, direction, conversation_id FROM touchpoints "
        "WHERE kind = 'delivery_failure' AND message_id = :id",
        id=message_id,
    )
    assert row is not None
    assert tuple(row) == ("negative", "outbound", conversation_id)
    r = await run.client.get("/api/v1/touchpoints", headers=auth(admin))
    assert r.status_code == 200, r.text
    failures = [t for t in r.json()["items"] if t["kind"] == "delivery_failure"]
    assert [(t["message_id"], t["reaction"]) for t in failures] == [(message_id, "negative")]
    row = await one(
        run,
        "SELECT reachable, unreachable_reason FROM contact_identities ci "
        "JOIN conversations c ON c.identity_id = ci.id WHERE c.id = :id",
        id=conversation_id,
    )
    assert row is not None and row[0] is False and row[1] == "bot was blocked by the user"
    # Never tried again.
    assert await Dispatcher(run.ctx).run_once() == 0
    assert provider.calls == [message_id]


async def test_gives_up_after_max_attempts(run: Running, provider: Provider) -> None:
    admin, conversation_id, message_id = await setup_reply(run)

    async def always_5xx(message: OutboundMessage, attempt: int) -> None:
        raise TemporaryError("502 bad gateway")

    provider.hook = always_5xx
    dispatcher = Dispatcher(run.ctx)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await wait_until_due(run, message_id)
        assert await dispatcher.run_once() == 1
        state = await api_message(run, admin, conversation_id, message_id)
        if attempt < MAX_ATTEMPTS:
            assert state["delivery_state"] == "queued"
            row = await one(
                run, "SELECT attempts FROM outbox WHERE message_id = :id", id=message_id
            )
            assert row is not None and row[0] == attempt
    assert provider.calls == [message_id] * MAX_ATTEMPTS
    assert state["delivery_state"] == "failed"
    assert state["failure_reason"] is not None
    assert f"{MAX_ATTEMPTS} attempts" in state["failure_reason"]
    assert "502 bad gateway" in state["failure_reason"]
    assert await one(run, "SELECT 1 FROM outbox WHERE message_id = :id", id=message_id) is None
    row = await one(
        run,
        "SELECT reaction FROM touchpoints WHERE kind = 'delivery_failure' AND message_id = :id",
        id=message_id,
    )
    assert row is not None and row[0] == "negative"
    await asyncio.sleep(0.3)  # past any backoff: still nothing to claim
    assert await dispatcher.run_once() == 0


async def test_a_failing_message_holds_back_later_ones_in_its_conversation(
    run: Running, provider: Provider
) -> None:
    admin, conversation_id, first = await setup_reply(run)
    second = await reply(run, admin, conversation_id, "second")

    async def fail_first_once(message: OutboundMessage, attempt: int) -> None:
        if message.message_id == first and attempt == 1:
            raise TemporaryError("timeout")

    provider.hook = fail_first_once
    dispatcher = Dispatcher(run.ctx)
    assert await dispatcher.run_once() == 1  # only the oldest is claimable
    assert provider.calls == [first]
    await wait_until_due(run, first)
    while await dispatcher.run_once():
        pass
    assert provider.sent == [first, second]


CONVERSATIONS = 30
PER_CONVERSATION = 10


async def test_several_dispatchers_send_each_message_exactly_once_in_order(
    run: Running, provider: Provider
) -> None:
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    conversation_ids = await asyncio.gather(
        *(open_conversation(run, admin, key, f"v{i}") for i in range(CONVERSATIONS))
    )
    queued: dict[int, int] = {}  # message id -> conversation id
    for n in range(PER_CONVERSATION):
        ids = await asyncio.gather(*(reply(run, admin, c, f"reply {n}") for c in conversation_ids))
        queued.update(zip(ids, conversation_ids, strict=True))
    total = CONVERSATIONS * PER_CONVERSATION
    assert len(queued) == total
    row = await one(run, "SELECT count(*) FROM outbox")
    assert row is not None and row[0] == total

    async def slow(message: OutboundMessage, attempt: int) -> None:
        await asyncio.sleep(0.001)

    provider.hook = slow

    async def drain(dispatcher: Dispatcher) -> int:
        handled = 0
        while True:
            n = await dispatcher.run_once()
            handled += n
            if n == 0:
                left = await one(run, "SELECT count(*) FROM outbox")
                if left is None or left[0] == 0:
                    return handled
                await asyncio.sleep(0.005)

    dispatchers = [Dispatcher(run.ctx, name=f"d{i}") for i in range(3)]
    handled = await asyncio.wait_for(asyncio.gather(*(drain(d) for d in dispatchers)), 60)

    assert sum(handled) == total
    assert sum(1 for h in handled if h > 0) >= 2, handled  # they really raced
    assert len(provider.calls) == total
    assert len(set(provider.calls)) == total, "a message was sent twice"
    assert set(provider.sent) == set(queued)
    states = await one(
        run,
        "SELECT count(*) FILTER (WHERE delivery_state = 'sent'), count(*) FROM messages "
        "WHERE direction = 'outbound'",
    )
    assert states is not None and tuple(states) == (total, total)
    for conversation_id in conversation_ids:
        order = [m for m in provider.calls if queued[m] == conversation_id]
        assert order == sorted(order), (conversation_id, order)
        assert len(order) == PER_CONVERSATION
