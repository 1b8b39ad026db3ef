"""CSAT: after a conversation is resolved, ask the client for a 1-5 rating on the same
channel (buttons where the channel has them); the answer (app/surveys/answers.py) sets the
reaction of the conversation's touchpoints and feeds the satisfaction rate.

Enabled per channel account: settings.csat_enabled (default off), settings.csat_question,
settings.csat_window_hours (how long an answer is accepted, default 72)."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.events.dispatch import raise_event
from app.events.types import SurveyRequested
from app.inbox import commands as inbox_commands
from app.inbox.models import Conversation, SenderType
from app.surveys.answers import BUTTON_PREFIX
from app.surveys.models import Survey
from app.touchpoints.models import TouchKind

DEFAULT_QUESTION = (
    "How would you rate our help? Reply with a number from 1 (poor) to 5 (excellent)."
)


async def maybe_request(
    session: AsyncSession,
    conv: Conversation,
    *,
    always: bool = False,
    question: str | None = None,
    chain: str | None = None,
    step: str | None = None,
) -> Survey | None:
    """Called when a conversation is resolved: queue the rating request once. `always`:
    ask even where CSAT is off for chats (delivery feedback closes a chain), with its own
    question, chain and step."""
    channel = await session.get(ChannelAccount, conv.channel_account_id)
    if channel is None or not (always or channel.settings.get("csat_enabled")):
        return None
    existing = await session.scalar(select(Survey).where(Survey.conversation_id == conv.id))
    if existing is not None:
        return None
    question = question or str(channel.settings.get("csat_question") or DEFAULT_QUESTION)
    buttons = [[{"text": str(n), "data": f"{BUTTON_PREFIX}{n}"} for n in range(1, 6)]]
    msg, _ = await inbox_commands.queue_outgoing(
        session,
        conv,
        text=question,
        private=False,
        sender_type=SenderType.system,
        operator_id=None,
        external_id=f"csat/{conv.id}",
        meta={"buttons": buttons, "survey": True},
        touch_kind=TouchKind.survey,
        chain=chain,
        step=step,
    )
    survey = Survey(
        conversation_id=conv.id,
        contact_id=conv.contact_id,
        channel_account_id=conv.channel_account_id,
        request_message_id=msg.id,
    )
    session.add(survey)
    await session.flush()
    await raise_event(
        session,
        SurveyRequested(survey_id=survey.id, conversation_id=conv.id, message_id=msg.id),
    )
    return survey
