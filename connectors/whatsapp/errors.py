"""Graph API error bodies -> TemporaryError (retry) or PermanentError (fail with a reason).

Codes from Meta's Cloud API error reference. Anything unknown with a 5xx or 429 status is
retried; an unknown 4xx is permanent, since resending the same request gets the same answer."""

from typing import Any

from connectors.base import PermanentError, TemporaryError

# Throughput and transient platform trouble: the same request can succeed later.
RETRY_CODES = {
    1: "API unknown error",
    2: "API service temporarily unavailable",
    4: "app request limit reached",
    80007: "WhatsApp Business Account rate limit reached",
    130429: "throughput rate limit reached",
    131000: "something went wrong at WhatsApp",
    131016: "WhatsApp service temporarily unavailable",
    131048: "spam rate limit reached",
    131056: "too many messages to this recipient in a short time",
    133004: "WhatsApp server temporarily unavailable",
}

# The recipient cannot get messages from this number: mark the identity unreachable.
UNREACHABLE_CODES = {
    131026: "message undeliverable: the number is not on WhatsApp, blocked the business, "
    "or has not accepted the terms",
    131030: "the recipient's number is not in the allowed list (test numbers)",
    131062: "this message type cannot be sent to a username-only (BSUID) recipient",
}

# Permanent for this message; the recipient may well be reachable otherwise.
PERMANENT_CODES = {
    190: "the access token expired or is invalid: update the channel's access_token",
    10: "the access token lacks the whatsapp_business_messaging permission",
    100: "invalid parameter",
    131008: "a required parameter is missing",
    131009: "a parameter value is not valid (e.g. an invalid phone number)",
    131031: "the WhatsApp Business Account is locked",
    131047: "more than 24 hours since the client last wrote: only a template can be sent",
    131051: "unsupported message type",
    131052: "media download failed",
    131053: "media upload failed",
    132000: "the template's parameter count does not match",
    132001: "the template does not exist in this language or is not approved",
    132007: "the template's content violates a WhatsApp policy",
    368: "the number is temporarily blocked for policy violations",
}


def error_from_response(status: int, body: Any) -> TemporaryError | PermanentError:
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details") if error else None
    provider_text = details or error.get("message") or f"HTTP {status}"
    if isinstance(code, int) and code in RETRY_CODES:
        return TemporaryError(f"WhatsApp {code}: {RETRY_CODES[code]} ({provider_text})")
    if isinstance(code, int) and code in UNREACHABLE_CODES:
        return PermanentError(
            f"WhatsApp {code}: {UNREACHABLE_CODES[code]}", recipient_unreachable=True
        )
    if isinstance(code, int) and code in PERMANENT_CODES:
        return PermanentError(f"WhatsApp {code}: {PERMANENT_CODES[code]} ({provider_text})")
    label = f"WhatsApp {code}" if code is not None else f"WhatsApp HTTP {status}"
    if status == 429 or status >= 500:
        return TemporaryError(f"{label}: {provider_text}")
    return PermanentError(f"{label}: {provider_text}")
