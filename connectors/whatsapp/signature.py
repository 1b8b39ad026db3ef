"""X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256(app secret, raw request body).

Meta signs the exact bytes it sends (escaped unicode), so the check runs over the raw body,
never over re-serialised JSON."""

import hashlib
import hmac


def sign(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    if not app_secret or not header:
        return False
    return hmac.compare_digest(sign(app_secret, body), header.strip().lower())
