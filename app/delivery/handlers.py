"""Delivery's reactions to domain events (connected in app/handlers.py)."""

from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery import service
from app.events.types import ChannelDeleted, MessageCreated


async def enqueue_outbound(session: AsyncSession, ev: MessageCreated) -> None:
    """An outbound message is sent by the dispatcher: its outbox row is written in the
    transaction that wrote the message (one per message, so parts go out in id order)."""
    if ev.direction == "outbound":
        await service.enqueue(
            session,
            message_id=ev.message_id,
            conversation_id=ev.conversation_id,
            channel_account_id=ev.channel_id,
        )


async def cancel_channel_outbox(session: AsyncSession, ev: ChannelDeleted) -> None:
    await service.cancel_channel(session, ev.channel_id, "The channel was deleted")
