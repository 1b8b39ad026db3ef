"""Sales' reactions to domain events (connected in app/handlers.py)."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.types import MessageCreated
from app.ingest.service import no_opt_out_word
from app.sales import cadence_messages


async def record_opt_out(session: AsyncSession, ev: MessageCreated) -> None:
    """A client's "stop" opts them out of automated messages (no statement where the
    ingest that stored the message already found it is none)."""
    if ev.direction == "inbound" and not no_opt_out_word(session, ev.message_id):
        await cadence_messages.record_opt_out(session, ev.message_id, datetime.now(UTC))
