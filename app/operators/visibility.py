"""Who sees what: the one statement builder every visibility-scoped read goes through.

It lives in operators, low in the layers, because the question is the caller's (a Principal,
defined here) and every domain from channels up asks it; the rule for a model is registered
by the package that owns what the rule needs (operators: Team; inbox: Conversation, Contact
and ChannelAccount, all judged by the conversations; touchpoints: Touchpoint), and
app/models.py, the composition root, imports them all. A model with no registered rule is
an error, never "everything": a forgotten rule must not leak rows. This is also where an
account id will go when an installation holds several accounts: one more clause here.

Admins and API keys (installation-wide integrations, limited by their scopes) see
everything. An operator sees:
- a conversation assigned to them, or an unassigned one of a team they are in or of no team;
- a contact they own, or one with a conversation they see;
- a touchpoint of a conversation they see; one outside any conversation by its contact;
- a channel of a team they are in, of no team, or of a conversation they see; the settings
  of their own teams;
- analytics: their own figures; a team's only as its lead (teams.lead_id).

The conversation rule is written once, over a handful of operations (_Ops), and evaluated
both as Python (operator_sees: the realtime hub, a row in hand) and as SQL (assigned_or_shared,
which the inbox registers for Conversation), so the two cannot drift apart."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Forbidden, NotFound
from app.operators.models import Team
from app.operators.service import Principal

Rule = Callable[[Principal], ColumnElement[bool]]


@dataclass(frozen=True)
class _Ops:
    """The few operations the rules need, as Python values or as SQL expressions."""

    any_: Callable[..., Any]
    all_: Callable[..., Any]
    eq: Callable[[Any, int | None], Any]  # never true for a missing id
    null: Callable[[Any], Any]
    among: Callable[[Any, frozenset[int]], Any]


_PY = _Ops(
    any_=lambda *terms: any(terms),
    all_=lambda *terms: all(terms),
    eq=lambda value, wanted: wanted is not None and value == wanted,
    null=lambda value: value is None,
    among=lambda value, ids: value in ids,
)
_SQL = _Ops(
    any_=or_,
    all_=and_,
    eq=lambda column, wanted: column == wanted if wanted is not None else false(),
    null=lambda column: column.is_(None),
    among=lambda column, ids: column.in_(sorted(ids)) if ids else false(),
)


def _shared_with(o: _Ops, team: Any, my_teams: frozenset[int]) -> Any:
    """A team's thing is its members'; a thing of no team is everyone's."""
    return o.any_(o.null(team), o.among(team, my_teams))


def _conversation_rule(
    o: _Ops, me: int | None, my_teams: frozenset[int], assignee: Any, team: Any
) -> Any:
    return o.any_(o.eq(assignee, me), o.all_(o.null(assignee), _shared_with(o, team, my_teams)))


# ---------------------------------------------------------------- the rule's two forms


def operator_sees(
    sees_everything: bool,
    operator_id: int | None,
    team_ids: frozenset[int],
    assignee_id: int | None,
    team_id: int | None,
) -> bool:
    """Whether a conversation is visible (the realtime hub's question, the inbox's check)."""
    if sees_everything:
        return True
    return bool(_conversation_rule(_PY, operator_id, team_ids, assignee_id, team_id))


def assigned_or_shared(p: Principal, assignee: Any, team: Any) -> ColumnElement[bool]:
    """operator_sees as SQL over an (assignee, team) pair of columns."""
    rule: ColumnElement[bool] = _conversation_rule(_SQL, p.operator_id, p.team_ids, assignee, team)
    return rule


def shared_with(p: Principal, team: Any) -> ColumnElement[bool]:
    """SQL: the column's team is one of the caller's, or none."""
    rule: ColumnElement[bool] = _shared_with(_SQL, team, p.team_ids)
    return rule


def owned_by(p: Principal, owner: Any) -> ColumnElement[bool]:
    """SQL: the column names the calling operator (never true for an integration)."""
    rule: ColumnElement[bool] = _SQL.eq(owner, p.operator_id)
    return rule


# ---------------------------------------------------------------- the registry


@dataclass(frozen=True)
class _Registered:
    rule: Rule
    refusal: tuple[str, str]  # (code, message) an operator is told when it is someone else's
    name: str  # as NotFound names it


_RULES: dict[type[Any], _Registered] = {}


def register(
    model: type[Any], rule: Rule, *, refusal: tuple[str, str], name: str | None = None
) -> None:
    """Declare who sees `model`'s rows, once per model: a second, different rule is a bug."""
    entry = _Registered(rule, refusal, name or model.__name__)
    known = _RULES.get(model)
    if known is not None and known.rule is not rule:
        raise RuntimeError(f"a visibility rule for {model.__name__} is already registered")
    _RULES[model] = entry


def _registered(model: type[Any]) -> _Registered:
    try:
        return _RULES[model]
    except KeyError:
        raise RuntimeError(
            f"no visibility rule is registered for {model.__name__}: its owner registers one,"
            " and app/models.py imports the owner's rule module"
        ) from None


def clause(principal: Principal, model: type[Any]) -> ColumnElement[bool]:
    """One WHERE clause keeping `model`'s rows to those `principal` sees (for a rule built
    on another model's: a touchpoint is seen through its conversation)."""
    entry = _registered(model)
    if principal.sees_everything:
        return true()
    return entry.rule(principal)


def where(principal: Principal, model: type[Any]) -> list[ColumnElement[bool]]:
    """The WHERE clauses that keep `model`'s rows to those `principal` sees."""
    entry = _registered(model)
    if principal.sees_everything:
        return []
    return [entry.rule(principal)]


async def require(
    session: AsyncSession, principal: Principal, model: type[Any], object_id: int
) -> None:
    """NotFound when there is no such row, Forbidden when it is not the caller's to see."""
    entry = _registered(model)
    visible = clause(principal, model)
    row = (await session.execute(select(visible).where(model.id == object_id))).first()
    if row is None:
        raise NotFound(f"{entry.name} {object_id} not found")
    if not row[0]:
        code, message = entry.refusal
        raise Forbidden(message, code)


def analytics_scope(
    principal: Principal, operator_id: int | None, team_id: int | None
) -> tuple[int | None, int | None]:
    """The (operator_id, team_id) filters a report may run with: admins and API keys as
    asked; a team's lead for their team; any other operator their own figures only."""
    if principal.sees_everything:
        return operator_id, team_id
    if team_id is not None:
        if team_id not in principal.lead_team_ids:
            raise Forbidden("Only the team's lead and admins see a team's figures", "not_team_lead")
        return operator_id, team_id
    if operator_id is not None and operator_id != principal.operator_id:
        raise Forbidden("Only admins and team leads see another manager's figures", "not_yourself")
    return principal.operator_id, None


def _teams(p: Principal) -> ColumnElement[bool]:
    rule: ColumnElement[bool] = _SQL.among(Team.id, p.team_ids)
    return rule


register(
    Team,
    _teams,
    refusal=("not_your_team", "Only the team's members and admins see its settings"),
)
