"""Domain errors, raised by services, mapped to `{"error": {"code", "message"}}` at the edge."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        *,
        details: Any = None,
    ):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.headers = headers
        self.details = details  # machine-readable extras, e.g. a count (error.details)


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "unsupported_media_type"


class Invalid(DomainError):
    status_code = 422
    code = "invalid"


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"


class Unavailable(DomainError):
    status_code = 503
    code = "unavailable"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        err["details"] = details
    return {"error": err}


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


# SQLSTATEs that mean "the server is not there right now", not "your query is wrong":
# connection exceptions (08xxx), operator intervention (57P01 admin shutdown, 57P02 crash
# shutdown, 57P03 cannot connect now), and 53300 too many connections.
_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")


def database_unavailable(exc: BaseException) -> bool:
    """True when a database error says the server is away (restarting, failing over), so
    the right answer is 503 and a retry, not 500."""
    if isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    ):
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError | ConnectionError):
            return True
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES):
            return True
        name = type(current).__name__
        if name in ("ConnectionDoesNotExistError", "InternalClientError", "InterfaceError"):
            return True
        current = (
            getattr(current, "orig", None)
            or getattr(current, "driver_exception", None)
            or current.__cause__
            or current.__context__
        )
    return False


# 40P01 deadlock detected, 40001 serialization failure: PostgreSQL aborted this transaction
# to let a conflicting one finish; the same work succeeds when run again.
_CONFLICT_STATES = ("40P01", "40001")


def transient_conflict(exc: BaseException) -> bool:
    """True when the database aborted the transaction over a lock conflict: retry it."""
    return any(
        getattr(e, "sqlstate", None) in _CONFLICT_STATES
        or getattr(e, "pgcode", None) in _CONFLICT_STATES
        for e in _chain(exc)
    )


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not e for e in out):
        out.append(current)
        current = (
            getattr(current, "orig", None)
            or getattr(current, "driver_exception", None)
            or current.__cause__
            or current.__context__
        )
    return out


def invalid_value(exc: BaseException) -> bool:
    """A value the database cannot take (an id beyond int64, a malformed number): the
    request is wrong (422), not the service (SQLSTATE class 22, or asyncpg refusing to
    encode an argument)."""
    for e in _chain(exc):
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str) and state.startswith("22"):
            return True
        if isinstance(e, OverflowError) or type(e).__name__ == "DataError":
            return True
    return False


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        malformed = any(d["type"] == "json_invalid" for d in details)
        if malformed:
            return JSONResponse(
                error_body("malformed_json", "The request body is not valid JSON"), 400
            )
        return JSONResponse(
            error_body("invalid", "The request is not valid", details), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        # The database is away (restarting, failing over): 503 tells providers to redeliver
        # and clients to retry; nothing was committed, so nothing is half-stored.
        if invalid_value(exc):
            return JSONResponse(
                error_body("invalid", "A value in the request is out of range or malformed"),
                status_code=422,
            )
        if database_unavailable(exc):
            log.warning("database unavailable: %s", type(exc.orig).__name__)
            return JSONResponse(
                error_body("database_unavailable", "The service is briefly unavailable"),
                status_code=503,
                headers={"Retry-After": "5"},
            )
        if transient_conflict(exc):
            # Nothing was committed; the request succeeds when sent again (providers and
            # the widget resend, and a resent message is stored once).
            log.warning("transaction aborted by a lock conflict: %s", type(exc.orig).__name__)
            return JSONResponse(
                error_body("conflict_retry", "A concurrent change got in the way; retry"),
                status_code=503,
                headers={"Retry-After": "1"},
            )
        log.exception("database error")
        return JSONResponse(error_body("internal", "Internal error"), status_code=500)

    @app.exception_handler(OSError)
    async def _unreachable(_: Request, exc: OSError) -> JSONResponse:
        log.warning("a backing service is unreachable: %s", type(exc).__name__)
        return JSONResponse(
            error_body("unavailable", "The service is briefly unavailable"),
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("internal", "Internal error"), status_code=500)
