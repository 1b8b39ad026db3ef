"""Surveys' reactions to domain events (connected in app/handlers.py)."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.types import ConversationResolved, MessageCreated
from app.inbox.models import Conversation
from app.surveys import answers, service


async def request_csat(session: AsyncSession, ev: ConversationResolved) -> None:
    """Whatever resolved it (an operator, a bulk action, automation), the client is asked
    once: maybe_request finds an earlier survey of the conversation and stops."""
    conv = await session.get(Conversation, ev.conversation_id)
    if conv is not None:
        await service.maybe_request(session, conv)


async def record_answer(session: AsyncSession, ev: MessageCreated) -> None:
    """A client's rating that answers a survey (the ingest's SQL found the survey waiting
    and named it in the event): the survey and the conversation's touchpoints take it."""
    if ev.answers_survey is not None and ev.rating is not None:
        await answers.record_answer(session, ev.conversation_id, ev.message_id, ev.rating)
