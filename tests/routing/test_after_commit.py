"""A new lead is routed after the ingest commits (issue 22): the message never waits inside
its transaction for an operator's row, and a routing that never ran (the process died in
between) is made up by the queue's drain."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from app.channels.models import ChannelAccount
from app.core.session import AFTER_COMMIT_KEY
from app.ingest.service import IngestResult, ingest
from app.routing import service as routing_service
from app.routing import tasks
from connectors.base import InboundMessage, Sender
from tests.conftest import LiveServer, Running
from tests.helpers import statements_sent, visitor_post, visitor_session
from tests.routing.test_routing import make_operators, set_presence, team_channel


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def _conversation(run: Running, conversation_id: int) -> Any:
    async with run.ctx.sessions() as s:
        return (
            await s.execute(
                text("SELECT assignee_id, queued_at, status FROM conversations WHERE id = :id"),
                {"id": conversation_id},
            )
        ).one()


async def _stored(run: Running, body: str) -> bool:
    async with run.ctx.sessions() as s:
        found = await s.scalar(text("SELECT count(*) FROM messages WHERE text = :t"), {"t": body})
    return bool(found)


async def _until_stored(run: Running, body: str) -> None:
    """Waits (up to 5 s) until a message with this text is committed."""
    for _ in range(100):
        if await _stored(run, body):
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"{body!r} was not committed while the operator's row was held")


async def ingest_without_routing(run: Running, key: str, external_id: str) -> IngestResult:
    """A visitor's message stored and committed the way the ingest does while every operator
    is being claimed elsewhere (so its statement leaves the routing to the follow-up), with
    no follow-up after it: a new conversation left waiting, as if the process had died."""
    async with run.ctx.engine.connect() as holder, run.ctx.sessions() as session:
        await holder.execute(text("SELECT 1 FROM operators FOR UPDATE"))
        channel_id = await session.scalar(
            text("SELECT id FROM channel_accounts WHERE public_key = :k"), {"k": key}
        )
        channel = await session.get(ChannelAccount, channel_id)
        assert channel is not None
        stored = await ingest(
            session,
            channel,
            InboundMessage(sender=Sender(external_id=external_id), external_id=external_id),
        )
        await session.commit()
        await holder.rollback()
    return stored


async def test_a_new_lead_is_routed_in_the_ingests_own_transaction(run: Running) -> None:
    """An operator whose row is free is claimed by the ingest's statement itself: before its
    commit the conversation is theirs, with its events stored, and nothing is left for
    after the commit (one transaction, one commit)."""
    admin = await run.admin_token()
    [op] = await make_operators(run, admin, 1)
    key = await team_channel(run, admin, [op])
    async with run.ctx.sessions() as session:
        channel_id = await session.scalar(
            text("SELECT id FROM channel_accounts WHERE public_key = :k"), {"k": key}
        )
        channel = await session.get(ChannelAccount, channel_id)
        assert channel is not None
        stored = await ingest(
            session, channel, InboundMessage(sender=Sender(external_id="v-1"), external_id="m-1")
        )
        inside = (
            await session.execute(
                text(
                    "SELECT assignee_id, queued_at, (SELECT array_agg(name ORDER BY id) "
                    "FROM domain_events WHERE aggregate_id = :id AND aggregate = "
                    "'conversation') AS events FROM conversations WHERE id = :id"
                ),
                {"id": stored.conversation_id},
            )
        ).one()
        assert inside.assignee_id == op and inside.queued_at is None
        assert inside.events == ["conversation.created", "conversation.assigned"]
        follow_ups = session.info.get(AFTER_COMMIT_KEY, [])
        assert not [h for h, _ in follow_ups if h.name == "routing.route_new"]
        await session.commit()
    assert (await _conversation(run, stored.conversation_id or 0)).assignee_id == op


async def test_a_new_lead_is_stored_while_its_operator_is_being_claimed(run: Running) -> None:
    admin = await run.admin_token()
    [op] = await make_operators(run, admin, 1)
    key = await team_channel(run, admin, [op])
    token = (await visitor_session(run.client, key))["visitor_token"]

    async with run.ctx.sessions() as holder:  # another routing holds the operator's row
        await holder.execute(text("SELECT 1 FROM operators WHERE id = :id FOR UPDATE"), {"id": op})
        post = asyncio.create_task(visitor_post(run.client, key, token, "first words"))
        # The message is committed while its routing still waits for the row: the ingest's
        # transaction never held (or waited for) an operator. Before, it waited inside.
        await _until_stored(run, "first words")
        assert not post.done()  # its routing is still waiting for the row
        await holder.rollback()

    r = await asyncio.wait_for(post, 10)
    assert r.status_code == 201, r.text
    conv = await _conversation(run, r.json()["message"]["conversation_id"])
    assert conv.assignee_id == op and conv.queued_at is None


async def test_a_conversation_whose_routing_never_ran_waits_queued_for_the_drain(
    run: Running,
) -> None:
    admin = await run.admin_token()
    [op] = await make_operators(run, admin, 1)
    key = await team_channel(run, admin, [op])
    stored = await ingest_without_routing(run, key, "v-1")  # the process dies: no follow-up
    assert stored.conversation_created and stored.conversation_id is not None

    conv = await _conversation(run, stored.conversation_id)
    assert conv.assignee_id is None and conv.queued_at is not None  # it waits, visibly

    assert await tasks.run_drain_all(run.ctx.sessions) == 1
    assert (await _conversation(run, stored.conversation_id)).assignee_id == op


async def test_the_follow_up_leaves_a_conversation_someone_took_meanwhile(run: Running) -> None:
    admin = await run.admin_token()
    first, second = await make_operators(run, admin, 2)
    key = await team_channel(run, admin, [first, second])
    token = (await visitor_session(run.client, key))["visitor_token"]
    r = await visitor_post(run.client, key, token, "hello")
    conversation_id = r.json()["message"]["conversation_id"]
    taken_by = (await _conversation(run, conversation_id)).assignee_id
    assert taken_by in (first, second)

    # A late or repeated follow-up (e.g. after the drain took it) changes nothing.
    async with run.ctx.sessions() as session:
        assert await routing_service.route(session, conversation_id, only_waiting=True) is None
        await session.commit()
    assert (await _conversation(run, conversation_id)).assignee_id == taken_by


async def test_only_a_new_leads_follow_up_commits_without_waiting_for_the_flush(
    run: Running,
) -> None:
    """The follow-up's conversation is already committed as waiting, so losing the routing
    in a crash of PostgreSQL loses nothing the drain does not make up: its commit does not
    wait for the WAL flush. Any other routing's does."""
    admin = await run.admin_token()
    [op] = await make_operators(run, admin, 1)
    key = await team_channel(run, admin, [op])
    follow_up = await ingest_without_routing(run, key, "client-1")
    other = await ingest_without_routing(run, key, "client-2")

    for conversation_id, only_waiting, mode in (
        (follow_up.conversation_id, True, "off"),
        (other.conversation_id, False, "on"),
    ):
        assert conversation_id is not None
        async with run.ctx.sessions() as session:
            assignee = await routing_service.route(
                session, conversation_id, only_waiting=only_waiting
            )
            assert assignee == op
            assert await session.scalar(text("SHOW synchronous_commit")) == mode
            await session.commit()
        assert (await _conversation(run, conversation_id)).assignee_id == op


async def test_a_clients_next_message_while_their_first_is_routed(run: Running) -> None:
    """The routing takes the client's row before the conversation's, in the ingest's order:
    a second message arriving while the first is being routed waits, and both are stored
    and the conversation assigned (before, the two deadlocked and one was aborted)."""
    admin = await run.admin_token()
    [op] = await make_operators(run, admin, 1)
    key = await team_channel(run, admin, [op])
    token = (await visitor_session(run.client, key))["visitor_token"]

    async with run.ctx.sessions() as holder:
        await holder.execute(text("SELECT 1 FROM operators WHERE id = :id FOR UPDATE"), {"id": op})
        first = asyncio.create_task(visitor_post(run.client, key, token, "first"))
        await _until_stored(run, "first")
        # The first one's routing now holds its rows and waits for the operator's.
        second = asyncio.create_task(visitor_post(run.client, key, token, "second"))
        await asyncio.sleep(0.5)
        await holder.rollback()

    answers = await asyncio.wait_for(asyncio.gather(first, second), 15)
    assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
    conv = await _conversation(run, answers[0].json()["message"]["conversation_id"])
    assert conv.assignee_id == op
    assert await _stored(run, "second")


async def test_the_periodic_drain_holds_one_operator_at_a_time(run: Running) -> None:
    """Each operator's drain is its own transaction: while it waits for one operator's row,
    the operators it served before are free for new leads' routings (before, one
    transaction held them all until the last was served)."""
    admin = await run.admin_token()
    first, second = await make_operators(run, admin, 2)
    key = await team_channel(run, admin, [first, second])
    for visitor in ("wait-1", "wait-2"):  # both may take them: the drain visits both
        await ingest_without_routing(run, key, visitor)
    async with run.ctx.sessions() as holder:
        await holder.execute(
            text("SELECT 1 FROM operators WHERE id = :id FOR UPDATE"), {"id": second}
        )
        drain = asyncio.create_task(tasks.run_drain_all(run.ctx.sessions))
        await asyncio.sleep(0.5)  # served the first, now waits for the second's row
        assert not drain.done()
        async with run.ctx.sessions() as other:
            await other.execute(
                text("SELECT 1 FROM operators WHERE id = :id FOR UPDATE NOWAIT"), {"id": first}
            )
            await other.rollback()
        await holder.rollback()
    assert await asyncio.wait_for(drain, 10) == 2  # the first took both


async def _operators_locked_by_a_drain_round(run: Running) -> int:
    with statements_sent(run.ctx.engine) as sent:
        await tasks.run_drain_all(run.ctx.sessions)
    return sum(1 for s in sent if s.startswith("SELECT operators.") and s.endswith("FOR UPDATE"))


async def test_the_periodic_drain_visits_only_who_may_take_something(run: Running) -> None:
    """Each round, the drain locks only the online operators with room for whom something
    waits: with 1,000 consoles online it took a transaction per operator every round,
    whatever was queued."""
    admin = await run.admin_token()
    ops = await make_operators(run, admin, 4)
    key = await team_channel(run, admin, [ops[2]])
    manual = await team_channel(run, admin, ops, name="By hand", strategy="manual")
    await ingest_without_routing(run, manual, "picked-by-hand")  # nobody's to drain
    assert await _operators_locked_by_a_drain_round(run) == 0
    waiting = await ingest_without_routing(run, key, "for-the-team")
    assert await _operators_locked_by_a_drain_round(run) == 1
    assert (await _conversation(run, waiting.conversation_id)).assignee_id == ops[2]


async def test_the_answer_does_not_wait_for_the_routing(live: LiveServer) -> None:
    """Over real HTTP the widget (or a provider's webhook) is answered once the message is
    committed; the lead's routing runs after the answer (app/core/after_answer.py). Here it
    is held up on purpose, the operator's row locked: the answer comes anyway, and the
    lead is routed once the row is free."""
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await run.admin_token()
    (op,) = await make_operators(run, admin, 1)
    key = await team_channel(run, admin, [op])
    token = (await visitor_session(live.client, key))["visitor_token"]
    async with live.ctx.engine.connect() as holder:
        await holder.execute(text("SELECT 1 FROM operators WHERE id = :id FOR UPDATE"), {"id": op})
        r = await asyncio.wait_for(visitor_post(live.client, key, token, "hello"), 5)
        assert r.status_code == 201, r.text
        conversation_id = r.json()["message"]["conversation_id"]
        assert (await _conversation(run, conversation_id)).assignee_id is None
        await holder.rollback()
    for _ in range(100):
        if (await _conversation(run, conversation_id)).assignee_id == op:
            break
        await asyncio.sleep(0.05)
    assert (await _conversation(run, conversation_id)).assignee_id == op


async def _waiting_client_of(run: Running, key: str, owner: int, external_id: str) -> int:
    """A client owned by `owner` whose new conversation is stored and waits, its own
    routing not run yet (the moment between the ingest's commit and the follow-up)."""
    stored = await ingest_without_routing(run, key, external_id)
    async with run.ctx.sessions() as session:
        await session.execute(
            text("UPDATE contacts SET owner_id = :o WHERE id = :c"),
            {"o": owner, "c": stored.contact_id},
        )
        await session.commit()
    assert stored.conversation_id is not None
    return stored.conversation_id


async def test_a_drain_leaves_a_returning_client_to_their_manager(run: Running) -> None:
    """Another operator's drain (a colleague resolved a chat) does not take a returning
    client in the moment before their routing gives them to their manager."""
    admin = await run.admin_token()
    owner, colleague = await make_operators(run, admin, 2)
    key = await team_channel(run, admin, [owner, colleague])
    conversation_id = await _waiting_client_of(run, key, owner, "back-1")
    async with run.ctx.sessions() as session:
        assert await routing_service.drain(session, colleague) == []
        await session.commit()
    assert (await _conversation(run, conversation_id)).assignee_id is None
    await tasks.run_drain_all(run.ctx.sessions)
    assert (await _conversation(run, conversation_id)).assignee_id == owner


async def test_the_managers_drain_takes_their_client_outside_their_team(run: Running) -> None:
    """A client's manager gets them whatever the conversation's team (as routing does), so
    leaving the client to the manager never leaves them waiting; and a conversation the
    manager declined goes to the team."""
    admin = await run.admin_token()
    owner, colleague = await make_operators(run, admin, 2)
    key = await team_channel(run, admin, [colleague])  # the manager is not in this team
    mine = await _waiting_client_of(run, key, owner, "back-2")
    declined = await _waiting_client_of(run, key, owner, "back-3")
    async with run.ctx.sessions() as session:
        await session.execute(
            text("UPDATE conversations SET declined_by = :o WHERE id = :c"),
            {"o": owner, "c": declined},
        )
        await session.commit()
    await tasks.run_drain_all(run.ctx.sessions)
    assert (await _conversation(run, mine)).assignee_id == owner
    assert (await _conversation(run, declined)).assignee_id == colleague


async def test_a_client_writing_while_their_chat_is_released(run: Running) -> None:
    """Their manager goes offline and the chat is released (routed again) while the client
    writes: the release locks the client before the conversation, as the ingest does, so the
    message waits and both go through (before, the release held the conversation and waited
    for the client, the ingest the reverse, and PostgreSQL aborted one of them)."""
    admin = await run.admin_token()
    op, colleague = await make_operators(run, admin, 2, online=False)
    key = await team_channel(run, admin, [op, colleague])
    await set_presence(run, admin, op, "online")
    token = (await visitor_session(run.client, key))["visitor_token"]
    first = await visitor_post(run.client, key, token, "first")
    conversation_id = first.json()["message"]["conversation_id"]
    assert (await _conversation(run, conversation_id)).assignee_id == op
    async with run.ctx.sessions() as session:  # op leaves (the release is run below)
        await session.execute(
            text(
                "UPDATE operators SET presence = CASE WHEN id = :op THEN 'offline' "
                "ELSE 'online' END WHERE id IN (:op, :colleague)"
            ),
            {"op": op, "colleague": colleague},
        )
        await session.commit()

    async with run.ctx.engine.connect() as holder:
        # The colleague's row, which the release's routing waits for: it stops there,
        # holding the client and the conversation.
        await holder.execute(
            text("SELECT 1 FROM operators WHERE id = :id FOR UPDATE"), {"id": colleague}
        )
        releasing = asyncio.create_task(routing_service.release(run.ctx.sessions, op))
        await asyncio.sleep(0.5)
        writing = asyncio.create_task(visitor_post(run.client, key, token, "second"))
        await asyncio.sleep(0.5)
        await holder.rollback()

    moved, answer = await asyncio.wait_for(asyncio.gather(releasing, writing), 15)
    assert answer.status_code == 201, answer.text
    assert moved == [conversation_id]
    assert await _stored(run, "second")
