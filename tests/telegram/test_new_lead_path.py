"""What a new lead's Telegram webhook does while the sender waits (issue 22): one
transaction of SQL with no extra round trips and no call to Telegram. A first message from
a stranger (a new contact and conversation, routed to an online operator) must not wait on
anything a message in an existing conversation does not."""

import time
from typing import Any

import pytest
from sqlalchemy import event, text

from tests.conftest import Running
from tests.routing.test_routing import make_operators
from tests.telegram.conftest import telegram_settings
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.helpers import create_bot, deliver, secret_of


@pytest.fixture
def settings_overrides(fake_api: FakeBotApi) -> dict[str, Any]:
    return telegram_settings(fake_api, run_workers=False)


def first_message(user: int) -> dict[str, Any]:
    person = {"id": user, "is_bot": False, "first_name": "Lead"}
    return {
        "update_id": user,
        "message": {
            "message_id": 1,
            "from": person,
            "chat": {**person, "type": "private"},
            "date": int(time.time()),
            "text": "hello",
        },
    }


async def test_a_new_leads_webhook_reads_the_channel_once_and_calls_no_api(
    run: Running, fake_api: FakeBotApi
) -> None:
    admin = await run.admin_token()
    ops = await make_operators(run, admin, 2)
    channel = await create_bot(run.client, admin)
    secret = secret_of(fake_api)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    engine = run.ctx.engine.sync_engine
    calls_before = len(fake_api.calls)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        r = await deliver(run.client, channel["id"], first_message(700_000_001), secret)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert r.status_code == 200, r.text

    # The ingest's one call routes the lead too; the assignment's touch and event are
    # stored inside it (the claim on the operator's row is held for no round trip more),
    # and nothing reads the channel or the conversation again for them.
    assert len([s for s in statements if "chatcentre_ingest_message" in s]) == 1
    assert not [s for s in statements if "chatcentre_route_conversation" in s]
    assert not [s for s in statements if "chatcentre_record_touchpoint" in s]
    assert not [s for s in statements if "INSERT INTO domain_events" in s]
    assert len([s for s in statements if "FROM channel_accounts" in s]) == 1, statements
    assert not [s for s in statements if "FROM conversations" in s], statements
    # Nothing asks Telegram about the stranger while the webhook waits (profile, chat).
    assert fake_api.calls[calls_before:] == []
    async with run.ctx.sessions() as session:
        touch = (
            await session.execute(
                text(
                    "SELECT t.operator_id, t.meta, c.assignee_id FROM touchpoints t"
                    " JOIN conversations c ON c.id = t.conversation_id"
                    " WHERE t.kind = 'assignment'"
                )
            )
        ).one()
        assigned = await session.scalar(
            text("SELECT payload FROM domain_events WHERE name = 'conversation.assigned'")
        )
    assert touch.assignee_id in ops and touch.operator_id == touch.assignee_id
    assert touch.meta["to"] == touch.assignee_id and touch.meta["reason"] == "balanced"
    assert assigned["assignee_id"] == touch.assignee_id and assigned["reason"] == "balanced"
