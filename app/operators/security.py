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

from app.core.errors import Invalid, Unauthorized

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


PASSWORD_MIN_LENGTH = 10
PASSWORD_MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable", about 10^8 guesses or more
_ZXCVBN_MAX_LENGTH = 72  # zxcvbn refuses longer input; a prefix that strong is enough


def check_password_policy(password: str, *user_inputs: str) -> None:
    """At least PASSWORD_MIN_LENGTH characters and not guessable: zxcvbn matches common
    passwords (its packaged frequency lists), names, keyboard walks, dates, repeats and
    l33t variants, and the operator's own email and name. 422 weak_password otherwise."""
    # Imported here: it builds its dictionaries on import (~0.2 s), which every node's
    # start would pay for a check that runs only when a password is set.
    from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # ships no type hints

    if len(password) < PASSWORD_MIN_LENGTH:
        raise Invalid(
            f"The password needs at least {PASSWORD_MIN_LENGTH} characters", "weak_password"
        )
    inputs = [part for value in user_inputs for part in _words(value)]
    result = zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=inputs)
    if result["score"] < PASSWORD_MIN_SCORE:
        hint = result["feedback"].get("warning") or "it is too easy to guess"
        raise Invalid(
            f"The password is too common or guessable ({hint.rstrip('.')}): "
            "use a longer passphrase of unrelated words",
            "weak_password",
        )


def _words(value: str) -> list[str]:
    """An email or name and its parts, for zxcvbn's user_inputs."""
    lowered = value.lower()
    return [lowered, *(p for p in lowered.replace("@", " ").replace(".", " ").split() if p)]


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
