"""GET /api/v1/search: contacts, conversations and messages matching what a person typed,
each group newest first with its own cursor, scoped by what the caller may see (the one
visibility builder, app/operators/visibility.py).

Contacts match by name, email, channel identifiers (a Telegram username, a wa_id) and
phone (chatcentre_phone_key on both sides); messages by full-text search (word forms) or,
for three characters or more, by substring (partial words and numbers, trigram-indexed)."""

import re
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select, tuple_
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


def _contact_matches(q: str) -> ColumnElement[bool]:
    pattern = _substring(q)
    known_as: list[ColumnElement[bool]] = [
        ContactIdentity.external_id.ilike(pattern),
        ContactIdentity.username.ilike(pattern),
    ]
    clauses: list[ColumnElement[bool]] = [Contact.name.ilike(pattern), Contact.email.ilike(pattern)]
    if _PHONE_LIKE.match(q) and sum(c.isdigit() for c in q) >= MIN_PARTIAL:
        key = func.chatcentre_phone_key(q)
        clauses.append(func.chatcentre_phone_key(Contact.phone).contains(key))
        known_as.append(ContactIdentity.external_id.contains(key))
    clauses.append(exists().where(ContactIdentity.contact_id == Contact.id, or_(*known_as)))
    return or_(*clauses)


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
    stmt = select(Contact, latest_conversation).where(
        *visibility.where(principal, Contact), _contact_matches(q)
    )
    before = parse_id_cursor(cursor)
    if before is not None:
        stmt = stmt.where(Contact.id < before)
    rows = (await session.execute(stmt.order_by(Contact.id.desc()).limit(limit + 1))).all()
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
    matches: list[ColumnElement[bool]] = [
        exists().where(Contact.id == Conversation.contact_id, _contact_matches(q))
    ]
    if number := _CONVERSATION_ID.match(q):
        matches.append(Conversation.id == int(number.group(1)))
    stmt = select(Conversation.id, Conversation.last_activity_at).where(
        *visible_to(principal), or_(*matches)
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
        .where(*visible_to(principal), Message.deleted_at.is_(None), match)
    )
    before = parse_id_cursor(cursor)
    if before is not None:
        page = page.where(Message.id < before)
    ids = page.order_by(Message.id.desc()).limit(limit + 1).subquery()
    stmt = (
        select(
            Message,
            Contact.id.label("contact_id_"),
            Contact.name,
            func.chatcentre_search_headline(
                Message.text, query, highlight.START, highlight.STOP
            ).label("headline"),
        )
        .join(ids, ids.c.id == Message.id)
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
    results = SearchResults()
    if SearchType.contacts in wanted:
        results.contacts = await _contacts(session, principal, q, cursor, limit)
    if SearchType.conversations in wanted:
        results.conversations = await _conversations(session, principal, q, cursor, limit)
    if SearchType.messages in wanted:
        results.messages = await _messages(session, principal, q, cursor, limit)
    return results
