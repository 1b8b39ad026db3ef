"""Who sees what: the one place every visibility-scoped read takes its rule from.

Admins and API keys (installation-wide integrations, limited by their scopes) see
everything. An operator sees:
- a conversation assigned to them, or an unassigned one of a team they are in or of no team;
- a contact they own, or one with a conversation they see;
- a touchpoint of a conversation they see; one outside any conversation by its contact;
- a channel of a team they are in, of no team, or of a conversation they see; the settings
  of their own teams;
- analytics: their own figures; a team's only as its lead (teams.lead_id).

The conversation rule is written once, over a handful of operations (_Ops), and evaluated
both as Python (operator_sees: the realtime hub, a row in hand) and as SQL (where(): every
list, catch-up and single-object check), so the two cannot drift apart."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.contacts.models import Contact
from app.core.errors import Forbidden, NotFound
from app.inbox.models import Conversation
from app.operators.models import Team
from app.operators.service import Principal
from app.touchpoints.models import Touchpoint


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


# ---------------------------------------------------------------- as Python


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


def can_see(principal: Principal, conversation: Conversation) -> bool:
    return operator_sees(
        principal.sees_everything,
        principal.operator_id,
        principal.team_ids,
        conversation.assignee_id,
        conversation.team_id,
    )


# ---------------------------------------------------------------- as SQL


def _conversations(p: Principal) -> ColumnElement[bool]:
    rule: ColumnElement[bool] = _conversation_rule(
        _SQL, p.operator_id, p.team_ids, Conversation.assignee_id, Conversation.team_id
    )
    return rule


def _contacts(p: Principal) -> ColumnElement[bool]:
    seen_in = exists().where(Conversation.contact_id == Contact.id, _conversations(p))
    return or_(_SQL.eq(Contact.owner_id, p.operator_id), seen_in)


def _touchpoints(p: Principal) -> ColumnElement[bool]:
    in_conversation = exists().where(
        Conversation.id == Touchpoint.conversation_id, _conversations(p)
    )
    of_contact = exists().where(Contact.id == Touchpoint.contact_id, _contacts(p))
    return or_(
        and_(Touchpoint.conversation_id.is_not(None), in_conversation),
        and_(Touchpoint.conversation_id.is_(None), of_contact),
    )


def _channels(p: Principal) -> ColumnElement[bool]:
    # Also another team's channel of a conversation handed to them: they answer in it.
    ours: ColumnElement[bool] = _shared_with(_SQL, ChannelAccount.team_id, p.team_ids)
    works_in = exists().where(
        Conversation.channel_account_id == ChannelAccount.id, _conversations(p)
    )
    return or_(ours, works_in)


def _teams(p: Principal) -> ColumnElement[bool]:
    rule: ColumnElement[bool] = _SQL.among(Team.id, p.team_ids)
    return rule


_RULES: dict[type[Any], Callable[[Principal], ColumnElement[bool]]] = {
    Conversation: _conversations,
    Contact: _contacts,
    Touchpoint: _touchpoints,
    ChannelAccount: _channels,
    Team: _teams,
}

# What an operator is told when the object is someone else's.
_REFUSALS: dict[type[Any], tuple[str, str]] = {
    Conversation: (
        "not_your_conversation",
        "This conversation is assigned to someone else or waits for another team",
    ),
    Contact: ("not_your_contact", "This client is another team's or manager's"),
    Touchpoint: ("not_your_contact", "This touch is of another team's or manager's client"),
    ChannelAccount: ("not_your_team", "This channel belongs to another team"),
    Team: ("not_your_team", "Only the team's members and admins see its settings"),
}


def where(principal: Principal, model: type[Any]) -> list[ColumnElement[bool]]:
    """The WHERE clauses that keep `model`'s rows to those `principal` sees."""
    if principal.sees_everything:
        return []
    return [_RULES[model](principal)]


def visible_to(principal: Principal) -> list[ColumnElement[bool]]:
    """The conversations `principal` sees, as WHERE clauses on Conversation."""
    return where(principal, Conversation)


async def require(
    session: AsyncSession, principal: Principal, model: type[Any], object_id: int
) -> None:
    """NotFound when there is no such row, Forbidden when it is not the caller's to see."""
    rules = where(principal, model)
    visible = and_(true(), *rules) if rules else true()
    row = (await session.execute(select(visible).where(model.id == object_id))).first()
    if row is None:
        raise NotFound(f"{_name(model)} {object_id} not found")
    if not row[0]:
        code, message = _REFUSALS[model]
        raise Forbidden(message, code)


def _name(model: type[Any]) -> str:
    return {ChannelAccount: "Channel", Touchpoint: "Touchpoint"}.get(model, model.__name__)


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
