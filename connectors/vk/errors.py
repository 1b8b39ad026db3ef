"""VK API error objects -> TemporaryError (retry, with a backoff hint) or PermanentError
(fail with a readable reason).

Codes from VK's list of API errors and messages.send's own codes. An unknown code is
permanent: resending the same request gets the same answer."""

from typing import Any

from connectors.base import PermanentError, TemporaryError

# The same request can succeed later: (meaning, seconds to wait before trying again).
RETRY_CODES: dict[int, tuple[str, float | None]] = {
    1: ("unknown error at VK", 5.0),
    6: ("too many requests per second", 1.0),
    # Flood control on messages.send: too many messages to this user (VK allows about
    # 1000 an hour) or the same text too often. Waiting is all that helps.
    9: ("flood control: too many messages of this kind", 60.0),
    10: ("internal server error at VK", 5.0),
    14: ("VK asks for a captcha (too many actions)", 60.0),
    29: ("the daily quota of this method is reached", 3600.0),
}

# The person cannot get messages from the community: mark the identity unreachable.
UNREACHABLE_CODES = {
    18: "the user's page was deleted or banned",
    113: "no such VK user",
    900: "the user is in the community's blacklist",
    901: "the user has not allowed messages from the community (or denied them)",
    902: "the user's privacy settings do not allow messages from this community",
}

# Permanent for this message (or this channel); the person may well be reachable otherwise.
PERMANENT_CODES = {
    5: "the community access token is invalid or revoked: update the channel's access_token",
    7: "permission denied: the community token lacks the messages (or photos/docs) right",
    8: "invalid request",
    15: "access denied (community messages switched off, or the token lacks the right)",
    27: "this method is not available with a community token",
    100: "a parameter is missing or invalid",
    911: "the keyboard format is invalid",
    912: "a chat-bot feature is used but Bot abilities are off in the community settings",
    913: "too many forwarded messages",
    914: "the message is too long",
    917: "the community has no access to this chat",
    921: "these messages cannot be forwarded",
    936: "contact not found",
    940: "too many posts in one message",
    945: "the chat was disabled",
    946: "the chat is not supported",
}


class VkTemporaryError(TemporaryError):
    """A TemporaryError that keeps VK's code (0: not an API error: network, HTTP status)."""

    def __init__(self, reason: str, retry_after: float | None = None, code: int = 0):
        super().__init__(reason, retry_after)
        self.code = code


class VkPermanentError(PermanentError):
    """A PermanentError that keeps VK's code, so the app can tell a 901 (the user denied
    messages: record it on the contact) from a broken token."""

    def __init__(self, reason: str, recipient_unreachable: bool = False, code: int = 0):
        super().__init__(reason, recipient_unreachable)
        self.code = code


def error_from_api(error: Any) -> VkTemporaryError | VkPermanentError:
    """One `{"error_code": .., "error_msg": ..}` object (the body's "error", or an item's of
    a peer_ids send, where VK names them "code" and "description")."""
    error = error if isinstance(error, dict) else {}
    code = error.get("error_code", error.get("code"))
    code = code if isinstance(code, int) and not isinstance(code, bool) else 0
    provider_text = str(error.get("error_msg") or error.get("description") or "no message")
    if code in RETRY_CODES:
        meaning, wait = RETRY_CODES[code]
        return VkTemporaryError(f"VK {code}: {meaning} ({provider_text})", wait, code)
    if code in UNREACHABLE_CODES:
        return VkPermanentError(f"VK {code}: {UNREACHABLE_CODES[code]}", True, code)
    if code in PERMANENT_CODES:
        return VkPermanentError(f"VK {code}: {PERMANENT_CODES[code]} ({provider_text})", code=code)
    return VkPermanentError(f"VK {code}: {provider_text}", code=code)
