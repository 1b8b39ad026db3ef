"""A survey's answer is the surveys' handler of message.created (issue 18): the ingest's SQL
names the survey a rating answers in the event, and the handler records it, in the same
transaction."""

from typing import Any

import pytest
from sqlalchemy import select

from app.events.dispatch import raise_event
from app.events.models import DomainEventRow
from app.events.types import MessageCreated, SurveyAnswered
from app.inbox.models import Conversation, Direction, Message, SenderType
from app.surveys.models import Survey
from tests.conftest import Running
from tests.helpers import visitor_post
from tests.surveys.test_csat import chat_and_resolve, csat_channel, rows


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def test_a_webchat_rating_names_its_survey_in_the_event_and_is_recorded(
    run: Running,
) -> None:
    admin = await run.admin_token()
    key = await csat_channel(run, admin)
    token, conv = await chat_and_resolve(run, admin, key)
    (survey,) = await rows(run, "SELECT id FROM surveys WHERE conversation_id = :c", c=conv)

    answer = (await visitor_post(run.client, key, token, "4")).json()["message"]

    async with run.ctx.sessions() as session:
        stored = await session.scalar(
            select(DomainEventRow).where(
                DomainEventRow.name == "message.created",
                DomainEventRow.aggregate_id == answer["id"],
            )
        )
    assert stored is not None
    assert (stored.payload["answers_survey"], stored.payload["rating"]) == (survey.id, 4)
    (recorded,) = await rows(
        run, "SELECT rating, answer_message_id, answered_at FROM surveys WHERE id = :s", s=survey.id
    )
    assert (recorded.rating, recorded.answer_message_id) == (4, answer["id"])
    assert recorded.answered_at is not None
    # The answer is a durable fact of its own, for consumers that come later (webhooks).
    async with run.ctx.sessions() as session:
        (answered,) = (
            await session.scalars(
                select(DomainEventRow).where(DomainEventRow.name == "survey.answered")
            )
        ).all()
    assert (answered.aggregate, answered.aggregate_id) == ("survey", survey.id)
    assert SurveyAnswered(**answered.payload) == SurveyAnswered(
        survey_id=survey.id,
        conversation_id=conv,
        message_id=answer["id"],
        rating=4,
        reaction="positive",
    )


async def inbound(run: Running, conv: Conversation, text: str) -> Message:
    async with run.ctx.sessions() as session:
        msg = Message(
            conversation_id=conv.id,
            channel_account_id=conv.channel_account_id,
            contact_id=conv.contact_id,
            direction=Direction.inbound,
            sender_type=SenderType.contact,
            text=text,
        )
        session.add(msg)
        await session.commit()
        return msg


def created(conv: Conversation, msg: Message, **fields: Any) -> MessageCreated:
    return MessageCreated(
        message_id=msg.id,
        conversation_id=conv.id,
        contact_id=conv.contact_id,
        channel_id=conv.channel_account_id,
        channel_type="webchat",
        direction="inbound",
        sender_type="contact",
        **fields,
    )


async def test_the_event_alone_records_the_answer_and_only_for_a_named_survey(
    run: Running,
) -> None:
    """No ingest here: raising message.created is what records the answer."""
    admin = await run.admin_token()
    key = await csat_channel(run, admin)
    _, conv_id = await chat_and_resolve(run, admin, key)
    async with run.ctx.sessions() as session:
        conv = await session.get(Conversation, conv_id)
        survey = await session.scalar(select(Survey).where(Survey.conversation_id == conv_id))
    assert conv is not None and survey is not None

    # A rating that answers no survey (the SQL named none) is an ordinary message.
    plain = await inbound(run, conv, "2")
    async with run.ctx.sessions() as session:
        await raise_event(session, created(conv, plain, rating=2), stored=True)
        await session.commit()
    (waiting,) = await rows(run, "SELECT rating FROM surveys WHERE id = :s", s=survey.id)
    assert waiting.rating is None

    answer = await inbound(run, conv, "5")
    async with run.ctx.sessions() as session:
        await raise_event(
            session, created(conv, answer, rating=5, answers_survey=survey.id), stored=True
        )
        await session.commit()
    (answered,) = await rows(
        run, "SELECT rating, answer_message_id FROM surveys WHERE id = :s", s=survey.id
    )
    assert (answered.rating, answered.answer_message_id) == (5, answer.id)
    reactions = await rows(
        run, "SELECT DISTINCT reaction FROM touchpoints WHERE conversation_id = :c", c=conv_id
    )
    assert [r.reaction for r in reactions] == ["positive"]
