"""GET /api/v1/search: contacts, conversations and messages matching what a person typed,
each group newest first with its own cursor, scoped by what the caller may see (the one
visibility builder, app/operators/visibility.py).

Contacts match by name, email, channel identifiers (a Telegram username, a wa_id) and
phone (chatcentre_phone_key on both sides); messages by full-text search (word forms) or,
for three characters or more, by substring (partial words and numbers, trigram-indexed)."""

import re
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select, text, tuple_, union
from sqlalchemy.ext.asyncio import AsyncSession

from app.contacts.models import Contact, ContactIdentity
from app.core.errors import Invalid
from app.core.pagination import decode_cursor, encode_cursor, parse_id_cursor
from app.inbox import queries as inbox_queries
from app.inbox.models import Conversation, Message
from app.inbox.schemas import ContactBrief
from app.inbox.visibility import visible_to
from app.operators import visibility
from app.operators.service import Principal
from app.search import highlight
from app.search.newest import newest_first
from app.search.schemas import (
    ContactGroup,
    ContactHit,
    ConversationGroup,
    MessageGroup,
    MessageHit,
    SearchResults,
    SearchType,
)

MAX_QUERY = 200
# Below this a substring has no trigram to look up: only whole words (and ids) match.
MIN_PARTIAL = 3
_PHONE_LIKE = re.compile(r"^[\d\s+()\-.]+$")
_CONVERSATION_ID = re.compile(r"^#?(\d{1,18})$")


def clean_query(q: str) -> str:
    q = " ".join(q.split())
    if not q:
        raise Invalid("Type something to search for", "empty_query")
    if len(q) > MAX_QUERY:
        raise Invalid(f"A search is at most {MAX_QUERY} characters", "query_too_long")
    return q


def _substring(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# How many of the newest contacts / messages are tested row by row before the indexes take
# over (app/search/newest.py): a few milliseconds of row tests each.
CONTACT_WINDOW = 2_000
MESSAGE_WINDOW = 4_000


def _contact_conditions(q: str) -> tuple[list[ColumnElement[bool]], list[ColumnElement[bool]]]:
    """What makes a contact match: conditions on the contact's own columns, and on its
    channel identities (a Telegram username, a wa_id). Each has its own index."""
    pattern = _substring(q)
    own: list[ColumnElement[bool]] = [Contact.name.ilike(pattern), Contact.email.ilike(pattern)]
    known_as: list[ColumnElement[bool]] = [
        ContactIdentity.external_id.ilike(pattern),
        ContactIdentity.username.ilike(pattern),
    ]
    if _PHONE_LIKE.match(q) and sum(c.isdigit() for c in q) >= MIN_PARTIAL:
        key = func.chatcentre_phone_key(q)
        own.append(Contact.phone_key.contains(key))
        known_as.append(ContactIdentity.external_id.contains(key))
    return own, known_as


def _contact_matches(q: str) -> ColumnElement[bool]:
    """The conditions tested on a contact row in hand (few rows)."""
    own, known_as = _contact_conditions(q)
    return or_(*own, exists().where(ContactIdentity.contact_id == Contact.id, or_(*known_as)))


def _matching_contact_ids(q: str) -> Any:
    """The same conditions as a set of ids, each condition through its own index (many rows:
    an OR across two tables would be a sequential scan)."""
    own, known_as = _contact_conditions(q)
    return union(
        *(select(Contact.id).where(condition) for condition in own),
        select(ContactIdentity.contact_id).where(or_(*known_as)),
    )


async def _contacts(
    session: AsyncSession, principal: Principal, q: str, cursor: str | None, limit: int
) -> ContactGroup:
    latest_conversation = (
        select(Conversation.id)
        .where(Conversation.contact_id == Contact.id, *visible_to(principal))
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    page = select(Contact, latest_conversation).where(*visibility.where(principal, Contact))
    rows = await newest_first(
        session,
        page,
        Contact.id,
        _contact_matches(q),
        indexed_match=Contact.id.in_(_matching_contact_ids(q)),
        before=parse_id_cursor(cursor),
        limit=limit + 1,
        window=CONTACT_WINDOW,
    )
    items = [
        ContactHit(
            id=c.id, name=c.name, email=c.email, phone=c.phone, conversation_id=conversation_id
        )
        for c, conversation_id in rows[:limit]
    ]
    return ContactGroup(items=items, next_cursor=_next_id(rows, limit))


async def _conversations(
    session: AsyncSession, principal: Principal, q: str, cursor: str | None, limit: int
) -> ConversationGroup:
    found_by = [
        select(Conversation.id).where(Conversation.contact_id.in_(_matching_contact_ids(q)))
    ]
    if number := _CONVERSATION_ID.match(q):
        found_by.append(select(Conversation.id).where(Conversation.id == int(number.group(1))))
    stmt = select(Conversation.id, Conversation.last_activity_at).where(
        *visible_to(principal), Conversation.id.in_(union(*found_by))
    )
    if cursor:
        ts, row_id = decode_cursor(cursor)
        stmt = stmt.where(
            tuple_(Conversation.last_activity_at, Conversation.id) < tuple_(ts, row_id)
        )
    stmt = stmt.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
    rows = (await session.execute(stmt.limit(limit + 1))).all()
    found = await inbox_queries.conversations_by_ids(session, [r.id for r in rows[:limit]])
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.last_activity_at, last.id)
    return ConversationGroup(items=[found[r.id] for r in rows[:limit]], next_cursor=next_cursor)


async def _messages(
    session: AsyncSession, principal: Principal, q: str, cursor: str | None, limit: int
) -> MessageGroup:
    query = func.chatcentre_search_query(q)
    match: ColumnElement[bool] = func.chatcentre_search_document(Message.text).op("@@")(query)
    if len(q) >= MIN_PARTIAL:
        match = or_(match, Message.text.ilike(_substring(q)))
    page = (
        select(Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(*visible_to(principal), Message.deleted_at.is_(None))
    )
    found = await newest_first(
        session,
        page,
        Message.id,
        match,
        before=parse_id_cursor(cursor),
        limit=limit + 1,
        window=MESSAGE_WINDOW,
    )
    ids = [row.id for row in found]
    stmt = (
        select(
            Message,
            Contact.id.label("contact_id_"),
            Contact.name,
            func.chatcentre_search_headline(
                Message.text, query, highlight.START, highlight.STOP
            ).label("headline"),
        )
        .where(Message.id.in_(ids))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Contact, Contact.id == Conversation.contact_id)
        .order_by(Message.id.desc())
    )
    rows = (await session.execute(stmt)).all()
    items = [
        MessageHit(
            id=m.id,
            conversation_id=m.conversation_id,
            contact=ContactBrief(id=contact_id, name=name),
            direction=m.direction,
            sender_type=m.sender_type,
            created_at=m.created_at,
            snippet_html=highlight.to_html(headline)
            if highlight.has_marks(headline)
            else highlight.around(m.text or "", q),
        )
        for m, contact_id, name, headline in rows[:limit]
    ]
    return MessageGroup(items=items, next_cursor=_next_id([(r[0],) for r in rows], limit))


def _next_id(rows: Any, limit: int) -> str | None:
    return str(rows[limit - 1][0].id) if len(rows) > limit else None


async def search(
    session: AsyncSession,
    principal: Principal,
    q: str,
    *,
    type_: SearchType | None,
    cursor: str | None,
    limit: int,
) -> SearchResults:
    q = clean_query(q)
    if cursor and type_ is None:
        raise Invalid("A cursor pages one group: give its type too", "cursor_needs_type")
    wanted = [type_] if type_ is not None else list(SearchType)
    # Every query here is meant to go through an index (trigram, full-text, primary key);
    # the planner prices the trigram indexes high and the per-row phone key and ILIKE low, and
    # would read whole tables. For this transaction only.
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    results = SearchResults()
    if SearchType.contacts in wanted:
        results.contacts = await _contacts(session, principal, q, cursor, limit)
    if SearchType.conversations in wanted:
        results.conversations = await _conversations(session, principal, q, cursor, limit)
    if SearchType.messages in wanted:
        results.messages = await _messages(session, principal, q, cursor, limit)
    return results
