"""Surveys' reactions to domain events (connected in app/handlers.py)."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.types import ConversationResolved
from app.inbox.models import Conversation
from app.surveys import service


async def request_csat(session: AsyncSession, ev: ConversationResolved) -> None:
    """Whatever resolved it (an operator, a bulk action, automation), the client is asked
    once: maybe_request finds an earlier survey of the conversation and stops."""
    conv = await session.get(Conversation, ev.conversation_id)
    if conv is not None:
        await service.maybe_request(session, conv)
