"""The ingest's SQL stores message.created (and conversation.created when it opens one) in
domain_events itself; the payloads build the event classes and are what Python raises."""

from sqlalchemy import select

from app.events.models import DomainEventRow
from app.events.types import ConversationCreated, MessageCreated
from tests.conftest import Running
from tests.helpers import create_webchat, visitor_post, visitor_session


async def test_the_sql_ingest_stores_its_events(run: Running) -> None:
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    token = (await visitor_session(run.client, key, name="Ann"))["visitor_token"]
    first = (await visitor_post(run.client, key, token, "hello", "m1")).json()
    second = (await visitor_post(run.client, key, token, "4", "m2")).json()
    again = await visitor_post(run.client, key, token, "hello", "m1")  # a redelivery
    assert again.json()["duplicate"]

    async with run.ctx.sessions() as session:
        rows = list(
            (await session.scalars(select(DomainEventRow).order_by(DomainEventRow.id))).all()
        )
    stored = [(r.name, r.aggregate, r.aggregate_id) for r in rows]
    conversation_id = first["message"]["conversation_id"]
    assert stored == [
        ("conversation.created", "conversation", conversation_id),
        ("message.created", "message", first["message"]["id"]),
        ("message.created", "message", second["message"]["id"]),
    ]
    created = ConversationCreated(**rows[0].payload)
    assert created.payload() == rows[0].payload
    assert created.conversation_id == conversation_id and created.channel_type == "webchat"
    messages = [MessageCreated(**r.payload) for r in rows[1:]]
    assert [m.payload() for m in messages] == [r.payload for r in rows[1:]]
    assert [(m.direction, m.sender_type, m.touch_kind, m.rating) for m in messages] == [
        ("inbound", "contact", "message", None),
        ("inbound", "contact", "message", 4),  # a bare digit reads as a rating
    ]
    assert {m.contact_id for m in messages} == {created.contact_id}
