"""Provider credentials encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The `credentials` JSONB column stores `{"enc": "<Fernet token>"}`; the plaintext dict only
exists in memory. The key is CHATCENTRE_CREDENTIALS_KEY (one or more Fernet keys, comma
separated: the first encrypts, all decrypt, for rotation; any other string is stretched
with SHA-256), else derived from the token signing key. Rows written before encryption
(a plain dict) are still read, and encrypted on their next write."""

import base64
import hashlib
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

ENC = "enc"
_fernet: MultiFernet | None = None


def _as_fernet_key(raw: str) -> bytes:
    raw = raw.strip()
    try:
        Fernet(raw.encode())
        return raw.encode()
    except (ValueError, TypeError):
        return base64.urlsafe_b64encode(hashlib.sha256(raw.encode()).digest())


def configure(credentials_key: str | None, signing_key: str) -> None:
    """Called when a process builds its context (API, workers, CLI)."""
    global _fernet
    if credentials_key:
        keys = [_as_fernet_key(k) for k in credentials_key.split(",") if k.strip()]
    else:
        derived = hashlib.sha256(b"chatcentre-credentials:" + signing_key.encode()).digest()
        keys = [base64.urlsafe_b64encode(derived)]
    _fernet = MultiFernet([Fernet(k) for k in keys])


def _get() -> MultiFernet:
    if _fernet is None:
        raise RuntimeError("credentials encryption is not configured (app.core.crypto)")
    return _fernet


def encrypt(values: dict[str, Any]) -> dict[str, str]:
    return {ENC: _get().encrypt(orjson.dumps(values)).decode()}


def decrypt(stored: dict[str, Any] | None) -> dict[str, Any]:
    if not stored:
        return {}
    if set(stored) != {ENC}:
        return dict(stored)  # written before encryption
    try:
        data: dict[str, Any] = orjson.loads(_get().decrypt(str(stored[ENC]).encode()))
    except InvalidToken as exc:
        raise RuntimeError(
            "cannot decrypt channel credentials: CHATCENTRE_CREDENTIALS_KEY (or the secret "
            "key it is derived from) changed"
        ) from exc
    return data


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSONB column whose value is encrypted before it leaves the process."""

    impl = JSONB
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return encrypt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, Any] | None:
        if value is None:
            return None
        return decrypt(value)
