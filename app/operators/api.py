from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.core.deps import Ctx, Session, client_ip
from app.core.errors import Forbidden
from app.operators import scopes, security
from app.operators import service as operators_service
from app.operators.auth import OPERATOR_TOKEN, current_principal, require
from app.operators.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    LoginRequest,
    OperatorCreate,
    OperatorRead,
    OperatorUpdate,
    TeamCreate,
    TeamRead,
    TokenResponse,
)
from app.operators.service import Principal
from app.routing import presence as presence_service

router = APIRouter(prefix="/api/v1", tags=["operators"])


@router.post("/auth/login", response_model=TokenResponse)
async def login(body: LoginRequest, request: Request, ctx: Ctx, session: Session) -> TokenResponse:
    await ctx.limiter.hit(ctx.settings.rate_limit_login, "login", client_ip(request))
    op = await operators_service.authenticate(session, body.email, body.password)
    ttl = ctx.settings.access_token_ttl_seconds
    token = security.issue_token(
        ctx.signing_key, OPERATOR_TOKEN, str(op.id), ttl, role=op.role.value
    )
    return TokenResponse(access_token=token, expires_in=ttl)


@router.get("/operators/me", response_model=OperatorRead)
async def me(
    principal: Annotated[Principal, Depends(current_principal)], session: Session
) -> OperatorRead:
    if principal.operator_id is None:
        raise Forbidden("An API key is not an operator", "operator_only")
    return OperatorRead.model_validate(await operators_service.get_operator(session, principal.id))


@router.get("/operators", response_model=list[OperatorRead])
async def list_operators(
    _: Annotated[Principal, Depends(require(scopes.OPERATORS_READ))], session: Session
) -> list[OperatorRead]:
    return [OperatorRead.model_validate(o) for o in await operators_service.list_operators(session)]


@router.post("/operators", response_model=OperatorRead, status_code=201)
async def create_operator(
    body: OperatorCreate,
    _: Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))],
    session: Session,
) -> OperatorRead:
    op = await operators_service.create_operator(session, body)
    await session.commit()
    return OperatorRead.model_validate(op)


@router.patch("/operators/{operator_id}", response_model=OperatorRead)
async def update_operator(
    operator_id: int,
    body: OperatorUpdate,
    _: Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))],
    ctx: Ctx,
    session: Session,
) -> OperatorRead:
    before = await operators_service.get_operator(session, operator_id)
    presence_before, limit_before = before.presence, before.max_open_conversations
    op = await operators_service.update_operator(session, operator_id, body)
    await session.commit()
    # Capacity may have changed: hand out the queue, or release on going offline.
    if op.presence != presence_before:
        await presence_service.after_change(ctx.sessions, op.id, presence_before, op.presence)
    elif op.max_open_conversations > limit_before:
        await presence_service.capacity_freed(ctx.sessions, op.id)
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
    _: Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))],
    session: Session,
) -> TeamRead:
    team, members = await operators_service.create_team(session, body)
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
    session: Session,
) -> ApiKeyCreated:
    key, full = await operators_service.create_api_key(session, body, principal.operator_id)
    await session.commit()
    return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=full)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyRead)
async def revoke_api_key(
    key_id: int,
    _: Annotated[Principal, Depends(require(scopes.API_KEYS_WRITE))],
    session: Session,
) -> ApiKeyRead:
    key = await operators_service.revoke_api_key(session, key_id)
    await session.commit()
    return ApiKeyRead.model_validate(key)
