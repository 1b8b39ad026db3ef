"""CSAT answers: recognising a rating in an inbound message (the ingest passes it to its SQL
function, which finds the survey it answers with chatcentre_awaiting_survey and names it in
message.created) and recording it (surveys.handlers, on that event). The reaction a rating
stands for is the touchpoints' rule (touchpoints.rules)."""

import re
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.events.dispatch import raise_event
from app.events.types import SurveyAnswered
from app.surveys.models import Survey
from app.touchpoints.models import Reaction, Touchpoint
from app.touchpoints.rules import reaction_for
from connectors.base import InboundMessage

# How long a survey waits for its answer, unless the channel says otherwise.
DEFAULT_WINDOW_HOURS = 72
BUTTON_PREFIX = "csat:"
_RATING_TEXT = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*[!.⭐★]*\s*$")


def rating_of(msg: InboundMessage) -> int | None:
    """A rating in an inbound message: a pressed csat button, or a bare 1-5."""
    data = msg.meta.get("data") if msg.kind == "button" else None
    if isinstance(data, str) and data.startswith(BUTTON_PREFIX):
        value = data[len(BUTTON_PREFIX) :]
        return int(value) if value in {"1", "2", "3", "4", "5"} else None
    match = _RATING_TEXT.match(msg.text or "")
    return int(match.group(1)) if match else None


def is_survey_button(msg: InboundMessage) -> bool:
    data = msg.meta.get("data")
    return msg.kind == "button" and isinstance(data, str) and data.startswith(BUTTON_PREFIX)


def window_hours(channel: ChannelAccount) -> int:
    return int(channel.settings.get("csat_window_hours", DEFAULT_WINDOW_HOURS))


async def record_answer(
    session: AsyncSession, conversation_id: int, message_id: int, rating: int
) -> bool:
    """Store the rating and spread its reaction over the conversation's touchpoints that
    have none yet. Returns False when no survey of this conversation awaits an answer."""
    survey = await session.scalar(
        select(Survey)
        .where(Survey.conversation_id == conversation_id, Survey.answered_at.is_(None))
        .with_for_update()
    )
    if survey is None:
        return False
    reaction = reaction_for(rating)
    survey.answered_at = datetime.now(UTC)
    survey.rating = rating
    survey.answer_message_id = message_id
    await session.execute(
        update(Touchpoint)
        .where(
            Touchpoint.conversation_id == conversation_id,
            Touchpoint.reaction == Reaction.unknown,
        )
        .values(reaction=reaction)
    )
    await session.flush()
    await raise_event(
        session,
        SurveyAnswered(
            survey_id=survey.id,
            conversation_id=conversation_id,
            message_id=message_id,
            rating=rating,
            reaction=reaction.value,
        ),
    )
    return True
