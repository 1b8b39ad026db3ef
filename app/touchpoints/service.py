"""The touchpoint log: one row per interaction with a client."""

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.channels.models import ChannelAccount
from app.contacts.models import Contact
from app.core.errors import Invalid, NotFound
from app.inbox.models import Conversation, Message
from app.inbox.queries import PREVIEW_CHARS
from app.operators import visibility
from app.operators.models import Operator
from app.operators.service import Principal
from app.touchpoints.models import Reaction, TouchKind, Touchpoint
from app.touchpoints.schemas import TouchpointCreate

# The one write path of the touchpoint log (the ingest's SQL calls the same function).
_RECORD = text("""
SELECT chatcentre_record_touchpoint(
    :contact_id, :conversation_id, :message_id, :operator_id, :order_id, :channel,
    :direction, :kind, :reaction, :chain, :step, :attention, CAST(:meta AS jsonb), :occurred_at)
""")


async def record(
    session: AsyncSession,
    *,
    occurred_at: datetime | None = None,
    order_id: int | None = None,
    attention: str | None = None,
    contact_id: int,
    channel: str,
    direction: str,
    kind: TouchKind,
    conversation_id: int | None = None,
    message_id: int | None = None,
    operator_id: int | None = None,
    reaction: Reaction = Reaction.unknown,
    chain: str | None = None,
    step: str | None = None,
    meta: dict[str, Any] | None = None,
) -> int:
    """Records a touch (its recurrence and attention follow from the kind, see
    touchpoints.rules) and returns its id."""
    touchpoint_id = await session.scalar(
        _RECORD,
        {
            "contact_id": contact_id,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "operator_id": operator_id,
            "order_id": order_id,
            "channel": channel,
            "direction": direction,
            "kind": str(kind),
            "reaction": str(reaction),
            "chain": chain,
            "step": step,
            "attention": attention,
            "meta": orjson.dumps(meta or {}).decode(),
            "occurred_at": occurred_at or datetime.now(UTC),
        },
    )
    assert touchpoint_id is not None
    return int(touchpoint_id)


async def list_touchpoints(
    session: AsyncSession,
    principal: Principal,
    *,
    contact_id: int | None = None,
    conversation_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Touchpoint]:
    q = (
        select(Touchpoint)
        .where(*visibility.where(principal, Touchpoint))
        .order_by(Touchpoint.id.desc())
        .limit(limit)
    )
    if contact_id is not None:
        q = q.where(Touchpoint.contact_id == contact_id)
    if conversation_id is not None:
        q = q.where(Touchpoint.conversation_id == conversation_id)
    if before_id is not None:
        q = q.where(Touchpoint.id < before_id)
    return list((await session.scalars(q)).all())


async def message_previews(session: AsyncSession, message_ids: list[int]) -> dict[int, str]:
    """The texts' starts of these messages (deleted ones left out), for the timeline."""
    if not message_ids:
        return {}
    rows = await session.execute(
        select(Message.id, func.left(Message.text, PREVIEW_CHARS)).where(
            Message.id.in_(message_ids), Message.deleted_at.is_(None), Message.text.is_not(None)
        )
    )
    return {mid: text for mid, text in rows.all()}


async def record_in_conversation(
    session: AsyncSession, conv: Conversation, *, kind: TouchKind, **fields: Any
) -> int:
    """A touch within a conversation: contact, conversation and channel come from it."""
    # session.get, not a SELECT: the ingest (or the reply) that got here has the channel in
    # the identity map, so a new lead's assignment touch costs no round trip for its type.
    channel = await session.get(ChannelAccount, conv.channel_account_id)
    assert channel is not None
    return await record(
        session,
        contact_id=conv.contact_id,
        conversation_id=conv.id,
        channel=channel.type,
        kind=kind,
        **fields,
    )


# A logged touch this long or longer held the client's attention (a call, a meeting).
LONG_ATTENTION_SECONDS = 180


async def log_touch(
    session: AsyncSession, principal: Principal, data: TouchpointCreate
) -> Touchpoint:
    """A touch that happened elsewhere: a call, a meeting, an email, a note. Logged on a
    client (and conversation) the caller sees."""
    await visibility.require(session, principal, Contact, data.contact_id)
    if data.conversation_id is not None:
        conv = await session.get(Conversation, data.conversation_id)
        if conv is None or conv.contact_id != data.contact_id:
            raise Invalid("conversation_id is not this contact's", "conversation_mismatch")
        await visibility.require(session, principal, Conversation, conv.id)
    operator_id = data.operator_id if data.operator_id is not None else principal.operator_id
    if operator_id is not None and await session.get(Operator, operator_id) is None:
        raise Invalid(f"Operator {operator_id} not found", "unknown_operator")
    attention = None
    if data.duration_seconds is not None:
        attention = "long" if data.duration_seconds >= LONG_ATTENTION_SECONDS else "short"
    meta: dict[str, Any] = {"logged_by": principal.kind + str(principal.id)}
    if data.note:
        meta["note"] = data.note
    if data.duration_seconds is not None:
        meta["duration_seconds"] = data.duration_seconds
    touchpoint_id = await record(
        session,
        contact_id=data.contact_id,
        conversation_id=data.conversation_id,
        operator_id=operator_id,
        order_id=data.order_id,
        channel=data.channel,
        direction=data.direction,
        kind=TouchKind(data.kind),
        reaction=data.reaction,
        chain=data.chain,
        step=data.step,
        occurred_at=data.occurred_at,
        attention=attention,
        meta=meta,
    )
    tp = await session.get(Touchpoint, touchpoint_id)
    assert tp is not None
    return tp


async def set_reaction(
    session: AsyncSession, principal: Principal, touchpoint_id: int, reaction: Reaction
) -> Touchpoint:
    await visibility.require(session, principal, Touchpoint, touchpoint_id)
    tp = await session.get(Touchpoint, touchpoint_id)
    if tp is None:
        raise NotFound(f"Touchpoint {touchpoint_id} not found")
    tp.reaction = reaction
    tp.meta = {**tp.meta, "reaction_by": principal.kind + str(principal.id)}
    await session.flush()
    return tp


# Names next to their ids: a spreadsheet reader should not need a second export to know
# who the contact and the manager were.
CSV_COLUMNS = [
    "id",
    "occurred_at",
    "contact_id",
    "contact_name",
    "conversation_id",
    "message_id",
    "operator_id",
    "operator_name",
    "order_id",
    "channel",
    "direction",
    "kind",
    "chain",
    "step",
    "reaction",
    "recurrence",
    "attention",
]
# Aliases: the visibility rule's own subqueries name Contact and must not correlate to the
# export's join.
_contact, _operator = aliased(Contact), aliased(Operator)
_NAMES = {"contact_name": _contact.name, "operator_name": _operator.name}
CSV_DELIMITERS = (",", ";", "\t")  # ';' is what Excel expects under a Russian locale
UTF8_BOM = "\ufeff"  # without it Excel reads UTF-8 as the locale's code page (mojibake)
# OWASP CSV injection: a cell starting with one of these is read as a formula by Excel or
# LibreOffice; a leading single quote makes it text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ROWS_PER_CHUNK = 500


def check_delimiter(delimiter: str) -> str:
    if delimiter not in CSV_DELIMITERS:
        raise Invalid("delimiter is one of ',', ';' or a tab", "invalid_delimiter")
    return delimiter


def csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


async def export_rows(
    session: AsyncSession, principal: Principal, start: datetime, end: datetime
) -> AsyncIterator[tuple[Any, ...]]:
    """Touchpoints in a range, streamed from a server-side cursor (never all in memory)."""
    columns = [_NAMES.get(c) or getattr(Touchpoint, c) for c in CSV_COLUMNS]
    q = (
        select(*columns)
        .select_from(Touchpoint)
        .outerjoin(_contact, _contact.id == Touchpoint.contact_id)
        .outerjoin(_operator, _operator.id == Touchpoint.operator_id)
        .where(
            Touchpoint.occurred_at >= start,
            Touchpoint.occurred_at < end,
            *visibility.where(principal, Touchpoint),
        )
        .order_by(Touchpoint.occurred_at, Touchpoint.id)
        .execution_options(yield_per=2000)
    )
    result = await session.stream(q)
    async for row in result:
        yield tuple(row)


async def export_csv(
    session: AsyncSession,
    principal: Principal,
    start: datetime,
    end: datetime,
    delimiter: str = ",",
) -> AsyncIterator[str]:
    """The export as text chunks (stdlib csv): a BOM, the header, then the rows with every
    cell made safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=check_delimiter(delimiter))
    buffer.write(UTF8_BOM)
    writer.writerow(CSV_COLUMNS)
    n = 0
    async for row in export_rows(session, principal, start, end):
        writer.writerow([csv_cell(v) for v in row])
        n += 1
        if n % _ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


async def contact_timeline(
    session: AsyncSession, principal: Principal, contact_id: int, *, before: int | None, limit: int
) -> list[Touchpoint]:
    """Every touchpoint of a client the caller sees, across channels, oldest first (the
    last `limit` before the cursor)."""
    await visibility.require(session, principal, Contact, contact_id)
    q = select(Touchpoint).where(
        Touchpoint.contact_id == contact_id, *visibility.where(principal, Touchpoint)
    )
    if before is not None:
        q = q.where(Touchpoint.id < before)
    q = q.order_by(Touchpoint.occurred_at.desc(), Touchpoint.id.desc()).limit(limit)
    return list(reversed((await session.scalars(q)).all()))
