"""Sales' reactions to domain events (connected in app/handlers.py)."""

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.events.types import MessageCreated
from app.sales import cadence_messages


async def record_opt_out(session: AsyncSession, ev: MessageCreated) -> None:
    """A client's "stop" opts them out of automated messages."""
    if ev.direction == "inbound":
        await cadence_messages.record_opt_out(session, ev.message_id, datetime.now(UTC))
