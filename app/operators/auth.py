"""Who is calling: `Authorization: Bearer <operator token>` or `X-Api-Key: <key>`."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from app.core.deps import Ctx, Session
from app.core.errors import Forbidden, Unauthorized
from app.operators import security
from app.operators import service as operators_service
from app.operators.service import Principal

OPERATOR_TOKEN = "operator"

_bearer = HTTPBearer(auto_error=False)
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False)


def operator_from_token(signing_key: str, token: str) -> tuple[int, int]:
    """(operator id, token version): a token whose version is behind the operator's was
    revoked (logout, password change)."""
    claims = security.read_token(signing_key, token, OPERATOR_TOKEN)
    try:
        return int(claims["sub"]), int(claims.get("ver", 0))
    except (TypeError, ValueError) as exc:
        raise Unauthorized("The token is not valid", "invalid_token") from exc


async def current_principal(
    request: Request,
    ctx: Ctx,
    session: Session,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    if api_key:
        principal = await operators_service.authenticate_api_key(session, api_key)
        await session.commit()  # last_used_at
    elif bearer is not None and bearer.scheme.lower() == "bearer":
        operator_id, version = operator_from_token(ctx.signing_key, bearer.credentials)
        principal = await operators_service.principal_for_operator(session, operator_id, version)
    else:
        raise Unauthorized(
            "Authentication required: a Bearer token or an X-Api-Key header",
            headers={"WWW-Authenticate": "Bearer"},
        )
    await ctx.limiter.hit(ctx.settings.rate_limit_api, principal.kind, str(principal.id))
    request.state.principal = principal
    return principal


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    async def dependency(
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        if scope not in principal.scopes:
            raise Forbidden(f"This needs the {scope!r} permission", "missing_scope")
        return principal

    return dependency
