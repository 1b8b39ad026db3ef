import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from app.audit import service as audit
from app.core.deps import Ctx, Session, client_ip
from app.core.errors import Forbidden, Unauthorized
from app.events.dispatch import commit_then_follow_up, raise_event
from app.events.types import OperatorAvailabilityChanged
from app.operators import scopes, security
from app.operators import service as operators_service
from app.operators.auth import OPERATOR_TOKEN, current_principal, require
from app.operators.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    AuditEntryRead,
    AuditPage,
    LoginRequest,
    MeUpdate,
    OperatorCreate,
    OperatorRead,
    OperatorUpdate,
    TeamCreate,
    TeamRead,
    TokenResponse,
)
from app.operators.service import Principal

router = APIRouter(prefix="/api/v1", tags=["operators"])
log = logging.getLogger(__name__)


@router.post(
    "/auth/login",
    response_model=TokenResponse,
    responses={429: {"description": "rate_limited (per IP) or account_locked (per account)"}},
)
async def login(body: LoginRequest, request: Request, ctx: Ctx, session: Session) -> TokenResponse:
    ip = client_ip(request)
    await ctx.limiter.hit(ctx.settings.rate_limit_login, "login", ip)
    lockout, account = ctx.settings.login_lockout, body.email.strip().lower()
    await ctx.limiter.check(
        lockout,
        "account_locked",
        "Too many failed logins for this account: it is locked for a while",
        "login-fail",
        account,
    )
    try:
        op = await operators_service.authenticate(session, body.email, body.password)
    except Unauthorized:
        if not await ctx.limiter.record(lockout, "login-fail", account):
            log.warning("login locked out after repeated failures (ip %s)", ip)
        raise
    await ctx.limiter.reset(lockout, "login-fail", account)
    ttl = ctx.settings.access_token_ttl_seconds
    token = security.issue_token(
        ctx.signing_key, OPERATOR_TOKEN, str(op.id), ttl, role=op.role.value, ver=op.token_version
    )
    return TokenResponse(access_token=token, expires_in=ttl)


@router.post("/auth/logout", status_code=204)
async def logout(
    principal: Annotated[Principal, Depends(current_principal)], session: Session
) -> Response:
    """Revokes every token of the calling operator (all devices)."""
    if principal.operator_id is None:
        raise Forbidden("An API key is not an operator", "operator_only")
    await operators_service.revoke_tokens(session, principal.operator_id)
    await session.commit()
    return Response(status_code=204)


def _actor(principal: Principal) -> dict[str, Any]:
    return {"actor_kind": principal.kind, "actor_id": principal.id}


@router.get("/operators/me", response_model=OperatorRead)
async def me(
    principal: Annotated[Principal, Depends(current_principal)], session: Session
) -> OperatorRead:
    if principal.operator_id is None:
        raise Forbidden("An API key is not an operator", "operator_only")
    return OperatorRead.model_validate(await operators_service.get_operator(session, principal.id))


@router.patch("/operators/me", response_model=OperatorRead)
async def update_me(
    body: MeUpdate, principal: Annotated[Principal, Depends(current_principal)], session: Session
) -> OperatorRead:
    """The caller's own preferences (the console's language); before /operators/{id}."""
    if principal.operator_id is None:
        raise Forbidden("An API key is not an operator", "operator_only")
    op = await operators_service.get_operator(session, principal.id)
    op.language = body.language
    read = OperatorRead.model_validate(op)
    await session.commit()
    return read


@router.get("/operators", response_model=list[OperatorRead])
async def list_operators(
    _: Annotated[Principal, Depends(require(scopes.OPERATORS_READ))], session: Session
) -> list[OperatorRead]:
    return [OperatorRead.model_validate(o) for o in await operators_service.list_operators(session)]


@router.post("/operators", response_model=OperatorRead, status_code=201)
async def create_operator(
    body: OperatorCreate,
    principal: Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))],
    request: Request,
    session: Session,
) -> OperatorRead:
    op = await operators_service.create_operator(session, body)
    await audit.record(
        session,
        **_actor(principal),
        action="operator.create",
        target_type="operator",
        target_id=op.id,
        ip=client_ip(request),
        details={"email": op.email, "role": op.role.value},
    )
    await session.commit()
    return OperatorRead.model_validate(op)


@router.patch("/operators/{operator_id}", response_model=OperatorRead)
async def update_operator(
    operator_id: int,
    body: OperatorUpdate,
    principal: Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))],
    request: Request,
    ctx: Ctx,
    session: Session,
) -> OperatorRead:
    before = await operators_service.get_operator(session, operator_id)
    presence_before, limit_before = before.presence, before.max_open_conversations
    op = await operators_service.update_operator(session, operator_id, body)
    await audit.record(
        session,
        **_actor(principal),
        action="operator.update",
        target_type="operator",
        target_id=op.id,
        ip=client_ip(request),
        details=body.model_dump(mode="json", exclude_unset=True),
    )
    if op.presence != presence_before or op.max_open_conversations != limit_before:
        await raise_event(
            session,
            OperatorAvailabilityChanged(
                operator_id=op.id,
                presence_from=presence_before.value,
                presence_to=op.presence.value,
                capacity_from=limit_before,
                capacity_to=op.max_open_conversations,
                by=principal.operator_id,
            ),
        )
    await commit_then_follow_up(session, ctx)  # hand out the queue, or release on going offline
    return OperatorRead.model_validate(op)


@router.get("/teams", response_model=list[TeamRead])
async def list_teams(
    _: Annotated[Principal, Depends(require(scopes.OPERATORS_READ))], session: Session
) -> list[TeamRead]:
    return [
        TeamRead(id=t.id, name=t.name, member_ids=m)
        for t, m in await operators_service.list_teams(session)
    ]


@router.post("/teams", response_model=TeamRead, status_code=201)
async def create_team(
    body: TeamCreate,
    principal: Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))],
    request: Request,
    session: Session,
) -> TeamRead:
    team, members = await operators_service.create_team(session, body)
    await audit.record(
        session,
        **_actor(principal),
        action="team.create",
        target_type="team",
        target_id=team.id,
        ip=client_ip(request),
        details={"name": team.name, "member_ids": members},
    )
    await session.commit()
    return TeamRead(id=team.id, name=team.name, member_ids=members)


@router.get("/api-keys", response_model=list[ApiKeyRead])
async def list_api_keys(
    _: Annotated[Principal, Depends(require(scopes.API_KEYS_WRITE))], session: Session
) -> list[ApiKeyRead]:
    return [ApiKeyRead.model_validate(k) for k in await operators_service.list_api_keys(session)]


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
async def create_api_key(
    body: ApiKeyCreate,
    principal: Annotated[Principal, Depends(require(scopes.API_KEYS_WRITE))],
    request: Request,
    session: Session,
) -> ApiKeyCreated:
    key, full = await operators_service.create_api_key(session, body, principal.operator_id)
    await audit.record(
        session,
        **_actor(principal),
        action="api_key.create",
        target_type="api_key",
        target_id=key.id,
        ip=client_ip(request),
        details={"name": key.name, "scopes": key.scopes},
    )
    await session.commit()
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=full)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead)
async def revoke_api_key(
    key_id: int,
    principal: Annotated[Principal, Depends(require(scopes.API_KEYS_WRITE))],
    request: Request,
    session: Session,
) -> ApiKeyRead:
    key = await operators_service.revoke_api_key(session, key_id)
    await audit.record(
        session,
        **_actor(principal),
        action="api_key.revoke",
        target_type="api_key",
        target_id=key.id,
        ip=client_ip(request),
        details={"name": key.name},
    )
    await session.commit()
    return ApiKeyRead.model_validate(key)


# The audit log is read here, beside the admin actions it records: app/audit is only the
# table and the writer every package calls, so it imports no operator.
@router.get("/audit-log", response_model=AuditPage, tags=["audit"])
async def audit_log(
    _: Annotated[Principal, Depends(require(scopes.AUDIT_READ))],
    session: Session,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditPage:
    """Admin actions, newest first: operator, team, channel and API key changes, logins
    locked out. Secrets are never recorded, only the names of what changed."""
    rows = await audit.list_entries(session, before=before, limit=limit, action=action)
    items = [AuditEntryRead.model_validate(r) for r in rows]
    return AuditPage(items=items, next_cursor=items[-1].id if len(items) == limit else None)
