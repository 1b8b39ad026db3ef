"""What one inbound message writes, counted by PostgreSQL in the ingest's own transaction
(pg_stat_xact_user_tables): a new lead's conversation is inserted as it stands after its
first message, not inserted and then updated (each row version costs its index entries)."""

from typing import Any

from sqlalchemy import text

from app.channels.models import ChannelAccount
from app.ingest.service import ingest
from connectors.base import InboundMessage, Sender
from tests.conftest import Running
from tests.helpers import create_webchat

_WRITES = text(
    "SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'conversations'"
)


async def _ingest_counting_writes(run: Running, channel_id: int, message: str) -> Any:
    """The conversations' rows inserted and updated by one ingest, and the conversation."""
    async with run.ctx.sessions() as session:
        channel = await session.get(ChannelAccount, channel_id)
        assert channel is not None
        before = (await session.execute(_WRITES)).one()
        stored = await ingest(
            session,
            channel,
            InboundMessage(sender=Sender(external_id="client-1"), external_id=message),
        )
        after = (await session.execute(_WRITES)).one()
        await session.commit()
    return after.n_tup_ins - before.n_tup_ins, after.n_tup_upd - before.n_tup_upd, stored


async def test_a_new_conversation_is_written_once(run: Running) -> None:
    admin = await run.admin_token()
    channel_id = (await create_webchat(run.client, admin))["id"]

    inserted, updated, first = await _ingest_counting_writes(run, channel_id, "m1")
    assert (inserted, updated) == (1, 0)
    inserted, updated, second = await _ingest_counting_writes(run, channel_id, "m2")
    assert (inserted, updated) == (0, 1)  # the next message updates its counters
    assert second.conversation_id == first.conversation_id

    async with run.ctx.sessions() as session:
        unread = await session.scalar(
            text("SELECT unread_count FROM conversations WHERE id = :id"),
            {"id": first.conversation_id},
        )
    assert unread == 2
