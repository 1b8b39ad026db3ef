"""A conversation's life, written once: which statuses are active, what an inbound message or
a reply reopens, when it waits for a person's answer. Python reads these constants and the
SQL (the ingest function, routing's statements) is written from them."""

from app.db.sqlfunctions import in_list, literal
from app.inbox.models import Conversation, ConversationStatus

# The one status that ends a conversation; any other is active, and a contact has at most one
# active conversation per channel (the partial unique index on conversations).
CLOSED = ConversationStatus.resolved
ACTIVE_STATUSES = tuple(s for s in ConversationStatus if s is not CLOSED)
# A new conversation, and one a message wakes up, is open.
OPENED = ConversationStatus.open
# An agent bot answers it (app/bots): no routing, queue or answer deadline until a handoff
# opens it.
WITH_BOT = ConversationStatus.bot
# The client's message wakes a conversation left waiting for them or put aside.
REOPEN_ON_INBOUND = (ConversationStatus.pending, ConversationStatus.snoozed)
# An operator's reply takes a conversation out of "waiting for the client".
REOPEN_ON_REPLY = (ConversationStatus.pending,)


def awaiting_reply(conv: Conversation) -> bool:
    """The client's last message has no answer from a person yet (bots, surveys and
    notifications do not count: they set no first_response_at)."""
    return conv.last_inbound_at is not None and (
        conv.first_response_at is None or conv.first_response_at < conv.last_inbound_at
    )


def awaiting_reply_sql(alias: str) -> str:
    """SQL: awaiting_reply() above, for the conversation `alias` (the same two columns, the
    same comparison; routing's assignment starts the answer clock with it)."""
    return (
        f"({alias}.last_inbound_at IS NOT NULL AND ({alias}.first_response_at IS NULL"
        f" OR {alias}.first_response_at < {alias}.last_inbound_at))"
    )


def not_closed(column: str = "status") -> str:
    """SQL: the conversation in `column` is active. Written as `<> 'resolved'` (not an IN
    list) because that is the predicate of the partial indexes the planner must match."""
    return f"{column} <> {literal(CLOSED)}"


# The predicate text of the partial indexes on conversations (byte for byte).
NOT_CLOSED_SQL = not_closed()


def sql_list(statuses: tuple[ConversationStatus, ...]) -> str:
    return in_list(statuses)
