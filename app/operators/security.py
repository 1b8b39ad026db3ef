"""Password hashing (argon2), signed tokens (JWT) and API key material."""

import functools
import hashlib
import hmac
import secrets
import time
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.core.errors import Unauthorized

_hasher = PasswordHasher()
_ALGORITHM = "HS256"
API_KEY_PREFIX = "cc_"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A real hash to compare against when the email is unknown, so timing does not tell.
DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def issue_token(key: str, kind: str, subject: str, ttl: int, **claims: Any) -> str:
    now = int(time.time())
    payload = {"typ": kind, "sub": subject, "iat": now, "exp": now + ttl, **claims}
    return jwt.encode(payload, key, algorithm=_ALGORITHM)


@functools.lru_cache(maxsize=4096)
def _verified(key: str, token: str) -> dict[str, Any]:
    """The claims of a token whose signature holds. Cached: a widget or console sends the
    same token with every request, and checking the signature is most of reading it. The
    expiry is checked on every call (read_token), not only the first."""
    payload: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=[_ALGORITHM],
        options={"require": ["exp", "sub", "typ"], "verify_exp": False},
    )
    return payload


def read_token(key: str, token: str, kind: str) -> dict[str, Any]:
    try:
        payload = dict(_verified(key, token))  # a copy: callers must not change the cache
    except jwt.PyJWTError as exc:
        raise Unauthorized("The token is not valid", code="invalid_token") from exc
    exp = payload.get("exp")
    if not isinstance(exp, int | float) or exp <= time.time():
        raise Unauthorized("The token has expired", code="token_expired")
    if payload.get("typ") != kind:
        raise Unauthorized("The token is not valid here", code="invalid_token")
    return payload


def new_api_key() -> tuple[str, str, str]:
    """Returns (full key shown once, lookup prefix, hash of the secret)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{API_KEY_PREFIX}{prefix}_{secret}", prefix, hash_api_secret(secret)


def split_api_key(key: str) -> tuple[str, str] | None:
    if not key.startswith(API_KEY_PREFIX):
        return None
    prefix, sep, secret = key[len(API_KEY_PREFIX) :].partition("_")
    if not sep or not prefix or not secret:
        return None
    return prefix, secret


def hash_api_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def hmac_sha256_hex(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
