"""Which kinds of automatic reply a channel has texts for, as the ingest's SQL found them
(chatcentre_ingest_message's o_auto_reply_kinds) in the statement that stored the client's
message. Most channels have none, and without this every inbound message paid one more
round trip, in the reply handlers, to learn that (about a sixth of a widget post's time).

Kept in the session's info for the transaction's handlers: the ingest refreshes it before it
raises the message's events, so what a handler reads is as fresh as the stored message. A
channel the session has not been told about is looked up as before."""

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

_KEY = "auto_reply_kinds"  # session.info: channel id -> the kinds with at least one text


def remember(session: AsyncSession, channel_id: int, kinds: Iterable[str]) -> None:
    session.info.setdefault(_KEY, {})[channel_id] = frozenset(kinds)


def none_of(session: AsyncSession, channel_id: int, kind: str) -> bool:
    """True when the channel is known to have no text of `kind` (the reply is off)."""
    known: frozenset[str] | None = session.info.get(_KEY, {}).get(channel_id)
    return known is not None and kind not in known
