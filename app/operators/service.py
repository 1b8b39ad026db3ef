"""Operators, teams and API keys. No FastAPI here: callers pass a session, we flush."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, Invalid, NotFound, Unauthorized
from app.events.dispatch import raise_event
from app.events.types import OperatorSessionsRevoked
from app.operators import security
from app.operators.models import ApiKey, Operator, Role, Team, team_members
from app.operators.schemas import ApiKeyCreate, OperatorCreate, OperatorUpdate, TeamCreate
from app.operators.scopes import ADMIN_SCOPES, ALL_SCOPES, OPERATOR_SCOPES


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an operator (by role) or an integration (by API key scopes)."""

    kind: str  # "operator" | "api_key"
    id: int
    scopes: frozenset[str]
    role: Role | None = None
    # An operator's teams, read once when the caller is authenticated: they decide which
    # unassigned conversations the operator sees (app/operators/visibility.py).
    team_ids: frozenset[int] = frozenset()
    # The teams whose lead the operator is (teams.lead_id): they see those teams' figures.
    lead_team_ids: frozenset[int] = frozenset()
    # The operator's token version when authenticated by a token (a WebSocket ticket
    # carries it, so a logout between issuing and redeeming the ticket still counts).
    token_version: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.kind == "operator" and self.role == Role.admin

    @property
    def operator_id(self) -> int | None:
        return self.id if self.kind == "operator" else None

    @property
    def sees_everything(self) -> bool:
        """Admins and integrations see every conversation; operators their own, and the
        unassigned ones of their teams and of no team."""
        return self.kind == "api_key" or self.role == Role.admin


def operator_principal(
    op: Operator,
    team_ids: frozenset[int] = frozenset(),
    lead_team_ids: frozenset[int] = frozenset(),
) -> Principal:
    scopes = ADMIN_SCOPES if op.role == Role.admin else OPERATOR_SCOPES
    return Principal(
        kind="operator",
        id=op.id,
        scopes=scopes,
        role=op.role,
        team_ids=team_ids,
        lead_team_ids=lead_team_ids,
        token_version=op.token_version,
    )


async def create_operator(session: AsyncSession, data: OperatorCreate) -> Operator:
    security.check_password_policy(data.password, data.email, data.name)
    op = Operator(
        email=data.email.lower(),
        name=data.name,
        password_hash=security.hash_password(data.password),
        role=data.role,
        max_open_conversations=data.max_open_conversations,
        max_base_size=data.max_base_size,
    )
    session.add(op)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"An operator with email {data.email} exists", "email_taken") from exc
    return op


async def authenticate(session: AsyncSession, email: str, password: str) -> Operator:
    op = await session.scalar(select(Operator).where(Operator.email == email.lower()))
    if op is None:
        security.verify_password(security.DUMMY_HASH, password)
        raise Unauthorized("Wrong email or password", "bad_credentials")
    if not security.verify_password(op.password_hash, password) or not op.is_active:
        raise Unauthorized("Wrong email or password", "bad_credentials")
    return op


async def get_operator(session: AsyncSession, operator_id: int) -> Operator:
    op = await session.get(Operator, operator_id)
    if op is None:
        raise NotFound(f"Operator {operator_id} not found")
    return op


async def list_operators(session: AsyncSession) -> list[Operator]:
    return list((await session.scalars(select(Operator).order_by(Operator.id))).all())


async def update_operator(
    session: AsyncSession, operator_id: int, data: OperatorUpdate
) -> Operator:
    op = await get_operator(session, operator_id)
    changes = data.model_dump(exclude_unset=True)
    password = changes.pop("password", None)
    role_before, active_before = op.role, op.is_active
    if password:
        security.check_password_policy(password, op.email, op.name)
        op.password_hash = security.hash_password(password)
    for key, value in changes.items():
        if value is not None:
            setattr(op, key, value)
    deactivated = active_before and not op.is_active
    if password or deactivated:
        # Old tokens stop working (a reactivated operator signs in again).
        op.token_version = op.token_version + 1
    if password or deactivated or op.role != role_before:
        # Open consoles hold the old credentials or role: close them on every node.
        await raise_event(session, OperatorSessionsRevoked(operator_id=op.id))
    await session.flush()
    return op


async def create_team(session: AsyncSession, data: TeamCreate) -> tuple[Team, list[int]]:
    team = Team(name=data.name)
    session.add(team)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A team named {data.name!r} exists", "team_exists") from exc
    members = sorted(set(data.member_ids))
    if members:
        found = await session.scalar(
            select(func.count()).select_from(Operator).where(Operator.id.in_(members))
        )
        if found != len(members):
            raise Invalid("Some member_ids are not operators", "unknown_operator")
        await session.execute(
            insert(team_members), [{"team_id": team.id, "operator_id": m} for m in members]
        )
    return team, members


async def list_teams(session: AsyncSession) -> list[tuple[Team, list[int]]]:
    teams = (await session.scalars(select(Team).order_by(Team.id))).all()
    rows = (await session.execute(select(team_members.c.team_id, team_members.c.operator_id))).all()
    members: dict[int, list[int]] = {}
    for team_id, operator_id in rows:
        members.setdefault(team_id, []).append(operator_id)
    return [(t, sorted(members.get(t.id, []))) for t in teams]


async def team_member_ids(session: AsyncSession, team_id: int) -> list[int]:
    rows = await session.scalars(
        select(team_members.c.operator_id)
        .where(team_members.c.team_id == team_id)
        .order_by(team_members.c.operator_id)
    )
    return list(rows.all())


async def set_team_members(session: AsyncSession, team_id: int, member_ids: list[int]) -> None:
    await session.execute(delete(team_members).where(team_members.c.team_id == team_id))
    if member_ids:
        await session.execute(
            insert(team_members), [{"team_id": team_id, "operator_id": m} for m in member_ids]
        )


async def create_api_key(
    session: AsyncSession, data: ApiKeyCreate, created_by: int | None
) -> tuple[ApiKey, str]:
    unknown = set(data.scopes) - ALL_SCOPES
    if unknown:
        raise Invalid(
            f"Unknown scopes: {', '.join(sorted(unknown))}; known: {', '.join(sorted(ALL_SCOPES))}",
            "unknown_scope",
        )
    full, prefix, secret_hash = security.new_api_key()
    key = ApiKey(
        name=data.name,
        prefix=prefix,
        secret_hash=secret_hash,
        scopes=sorted(set(data.scopes)),
        created_by_id=created_by,
    )
    session.add(key)
    await session.flush()
    return key, full


async def list_api_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.scalars(select(ApiKey).order_by(ApiKey.id))).all())


async def revoke_api_key(session: AsyncSession, key_id: int) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    key.revoked_at = datetime.now(UTC)
    await session.flush()
    return key


async def authenticate_api_key(session: AsyncSession, raw: str) -> Principal:
    parts = security.split_api_key(raw)
    if parts is None:
        raise Unauthorized("The API key is not valid", "invalid_api_key")
    prefix, secret = parts
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if (
        key is None
        or key.revoked_at is not None
        or not security.same_digest(key.secret_hash, security.hash_api_secret(secret))
    ):
        raise Unauthorized("The API key is not valid", "invalid_api_key")
    await session.execute(_TOUCH_API_KEY, {"id": key.id})
    return Principal(kind="api_key", id=key.id, scopes=frozenset(key.scopes))


# last_used_at is for people auditing keys, to the minute. Writing it on every request made
# every concurrent call of one integration queue behind one row lock; now it is written at
# most once a minute, and a request that finds the row busy skips it.
_TOUCH_API_KEY = text("""
UPDATE api_keys SET last_used_at = now()
WHERE id IN (SELECT id FROM api_keys
             WHERE id = :id
               AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
             FOR UPDATE SKIP LOCKED)
""")


async def principal_for_operator(
    session: AsyncSession, operator_id: int, token_version: int | None = None
) -> Principal:
    """The operator behind a token, with their teams and the teams they lead: one query."""
    teams = (
        select(func.array_agg(team_members.c.team_id))
        .where(team_members.c.operator_id == Operator.id)
        .scalar_subquery()
    )
    led = select(func.array_agg(Team.id)).where(Team.lead_id == Operator.id).scalar_subquery()
    row = (
        await session.execute(select(Operator, teams, led).where(Operator.id == operator_id))
    ).first()
    if row is None or not row[0].is_active:
        raise Unauthorized("The operator is not active", "inactive_operator")
    op, team_ids, lead_team_ids = row
    if token_version is not None and token_version != op.token_version:
        raise Unauthorized("The token was revoked: log in again", "token_revoked")
    return operator_principal(op, frozenset(team_ids or ()), frozenset(lead_team_ids or ()))


async def revoke_tokens(session: AsyncSession, operator_id: int) -> None:
    """Every token issued to the operator so far stops working, and their open consoles
    are closed on every node."""
    await session.execute(
        update(Operator)
        .where(Operator.id == operator_id)
        .values(token_version=Operator.token_version + 1)
    )
    await raise_event(session, OperatorSessionsRevoked(operator_id=operator_id))
