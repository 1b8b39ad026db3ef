"""Delivery receipts: a provider's status callback moves an outbound message's delivery state
forward (WhatsApp; the early ones wait in pending_statuses). A failure is a broken link in the
client's history: a negative touchpoint."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.events.dispatch import raise_event
from app.events.types import MessageDeliveryFailed, MessageUpdated
from connectors.base import StatusUpdate

# Receipts arrive out of order: a state only moves up (queued < sent < delivered < read),
# and failed is final. A late "sent" never overwrites "read".
_APPLY_STATUS = text("""
UPDATE messages SET
    delivery_state = :state,
    failure_reason = CASE WHEN :state = 'failed' THEN :reason ELSE failure_reason END,
    sent_at = COALESCE(sent_at, :at)
WHERE channel_account_id = :channel_id AND provider_message_id = :provider_id
  AND direction = 'outbound'
  AND delivery_state <> 'failed'
  AND (CASE delivery_state WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2
                           WHEN 'read' THEN 3 ELSE 0 END)
      < (CASE :state WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3
                     WHEN 'failed' THEN 4 ELSE -1 END)
RETURNING id, conversation_id, contact_id, operator_id
""")


async def apply_status(
    session: AsyncSession, channel: ChannelAccount, status: StatusUpdate
) -> int | None:
    """Moves an outbound message's delivery state forward. Returns the message id when it
    changed; a failure is raised as message.delivery_failed (its touchpoint is a handler's)."""
    reason = None
    if status.state == "failed":
        reason = " ".join(p for p in (status.error_code, status.error_title) if p) or "failed"
    row = (
        await session.execute(
            _APPLY_STATUS,
            {
                "state": status.state,
                "reason": reason,
                "at": status.at,
                "channel_id": channel.id,
                "provider_id": status.provider_message_id,
            },
        )
    ).first()
    if row is None:
        return None
    message_id, conversation_id, contact_id, operator_id = row
    if status.state == "failed":  # the broken link's touchpoint is a handler's
        await raise_event(
            session,
            MessageDeliveryFailed(
                message_id=message_id,
                conversation_id=conversation_id,
                contact_id=contact_id,
                operator_id=operator_id,
                channel_type=channel.type,
                reason=reason,
                code=status.error_code,
            ),
        )
    await raise_event(
        session,
        MessageUpdated(
            message_id=message_id,
            conversation_id=conversation_id,
            change="delivery_state",
            state=status.state,
        ),
    )
    return int(message_id)
