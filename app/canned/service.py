"""Canned responses: who sees and manages which, and rendering one for a conversation.

Who sees one: personal, its owner; team, the team's members (admins and API keys: every
team's); shared, everyone. Who changes one: personal, its owner; team, its members,
admins and API keys; shared, admins (operators:write). Another operator's personal response is never
shown, not even to admins: it is a private shortcut, not the installation's text."""

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.canned import variables
from app.canned.models import CannedResponse, CannedScope
from app.canned.schemas import CannedCreate, CannedUpdate
from app.chains.models import Order
from app.contacts.models import Contact
from app.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.inbox.models import Conversation
from app.operators import scopes
from app.operators.models import Operator, Team
from app.operators.service import Principal

LIST_LIMIT = 500


def visible(p: Principal) -> ColumnElement[bool]:
    """WHERE clause: the canned responses `p` sees."""
    c = CannedResponse
    mine = and_(c.scope == CannedScope.personal, c.owner_id == p.operator_id)
    if p.sees_everything:
        teams: ColumnElement[bool] = c.scope == CannedScope.team
    elif p.team_ids:
        teams = and_(c.scope == CannedScope.team, c.team_id.in_(sorted(p.team_ids)))
    else:
        teams = false()
    shared = c.scope == CannedScope.shared
    return or_(mine, teams, shared) if p.operator_id is not None else or_(teams, shared)


def _may_change(
    p: Principal, scope: CannedScope, owner_id: int | None, team_id: int | None
) -> None:
    if scope == CannedScope.personal:
        if p.operator_id is None:
            raise Forbidden("A personal response belongs to an operator", "operator_only")
        if owner_id != p.operator_id:
            raise Forbidden("Only its owner changes a personal response", "not_yours")
    elif scope == CannedScope.team:
        if not p.sees_everything and team_id not in p.team_ids:
            raise Forbidden(
                "Only the team's members and admins change its responses", "not_your_team"
            )
    elif scopes.OPERATORS_WRITE not in p.scopes:
        raise Forbidden("Only admins change shared responses", "admins_only")


async def list_visible(
    session: AsyncSession,
    principal: Principal,
    *,
    q: str | None = None,
    scope: CannedScope | None = None,
) -> list[CannedResponse]:
    """Ordered by short code; `q` matches the code's start or any part of the text."""
    stmt = select(CannedResponse).where(visible(principal))
    if scope is not None:
        stmt = stmt.where(CannedResponse.scope == scope)
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(
            or_(
                CannedResponse.short_code.ilike(f"{escaped}%"),
                CannedResponse.content.ilike(f"%{escaped}%"),
            )
        )
    stmt = stmt.order_by(func.lower(CannedResponse.short_code), CannedResponse.id).limit(LIST_LIMIT)
    return list((await session.scalars(stmt)).all())


async def get_visible(
    session: AsyncSession, principal: Principal, canned_id: int
) -> CannedResponse:
    """404 for one that does not exist or the caller does not see (a personal one of
    someone else's is not revealed)."""
    row = await session.scalar(
        select(CannedResponse).where(CannedResponse.id == canned_id, visible(principal))
    )
    if row is None:
        raise NotFound(f"Canned response {canned_id} not found")
    return row


async def _flush_unique(session: AsyncSession, code: str) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"The code {code!r} is taken in this scope", "short_code_taken") from exc


async def create(session: AsyncSession, principal: Principal, data: CannedCreate) -> CannedResponse:
    owner_id = principal.operator_id if data.scope == CannedScope.personal else None
    _may_change(principal, data.scope, owner_id, data.team_id)
    if data.team_id is not None and await session.get(Team, data.team_id) is None:
        raise Invalid(f"Team {data.team_id} not found", "unknown_team")
    row = CannedResponse(
        scope=data.scope,
        owner_id=owner_id,
        team_id=data.team_id,
        short_code=data.short_code,
        content=variables.check(data.content),
        created_by=principal.operator_id,
    )
    session.add(row)
    await _flush_unique(session, data.short_code)
    await session.refresh(row)
    return row


async def update(
    session: AsyncSession, principal: Principal, canned_id: int, data: CannedUpdate
) -> tuple[CannedResponse, dict[str, str]]:
    row = await get_visible(session, principal, canned_id)
    _may_change(principal, CannedScope(row.scope), row.owner_id, row.team_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if "content" in changes:
        variables.check(changes["content"])
    for key, value in changes.items():
        setattr(row, key, value)
    row.updated_at = func.now()
    await _flush_unique(session, row.short_code)
    await session.refresh(row)
    return row, changes


async def delete(session: AsyncSession, principal: Principal, canned_id: int) -> CannedResponse:
    row = await get_visible(session, principal, canned_id)
    _may_change(principal, CannedScope(row.scope), row.owner_id, row.team_id)
    await session.delete(row)
    await session.flush()
    return row


# ---------------------------------------------------------------- rendering


def _first_word(name: str | None) -> str | None:
    return name.split()[0] if name and name.split() else None


async def values_for(
    session: AsyncSession, conversation_id: int, operator_id: int | None
) -> dict[str, str | None]:
    """Every variable's value for the conversation, as `operator_id` (None: its assignee)
    writes. The order is the client's latest in the delivery chains."""
    conv = await session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} not found")
    contact = await session.get(Contact, conv.contact_id)
    writer_id = operator_id if operator_id is not None else conv.assignee_id
    operator = await session.get(Operator, writer_id) if writer_id is not None else None
    order = await session.scalar(
        select(Order)
        .where(Order.contact_id == conv.contact_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(1)
    )
    contact_name = contact.name if contact is not None else None
    operator_name = operator.name if operator is not None else None
    return {
        "contact.name": contact_name,
        "contact.first_name": _first_word(contact_name),
        "contact.email": contact.email if contact is not None else None,
        "contact.phone": contact.phone if contact is not None else None,
        "operator.name": operator_name,
        "operator.first_name": _first_word(operator_name),
        "order.number": order.external_id if order is not None else None,
        "order.status": order.status if order is not None else None,
        "conversation.id": str(conv.id),
    }


async def render(
    session: AsyncSession,
    canned: CannedResponse | int,
    conversation_id: int,
    *,
    operator_id: int | None = None,
) -> str:
    """The response's text for the conversation, variables filled in. The service function
    an automation's "send a canned response" action calls: it acts for the installation,
    so it checks no visibility (the API route does); `operator_id` None writes as the
    conversation's assignee."""
    if isinstance(canned, int):
        found = await session.get(CannedResponse, canned)
        if found is None:
            raise NotFound(f"Canned response {canned} not found")
        canned = found
    values = await values_for(session, conversation_id, operator_id)
    return variables.render(canned.content, values)
