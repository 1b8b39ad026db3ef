"""Keeps credentials out of the logs: the filter that `chatcentre serve` and `chatcentre
worker` put on every log handler (uvicorn's access and error logs, and ours).

uvicorn logs each request's path with its query string, and each WebSocket handshake too,
so a `?token=` or `?ticket=` (the deprecated and the current way a socket authenticates),
Meta's `hub.verify_token`, or a tracking page's token in its path would land in the log.
The filter rewrites the record's arguments (and message) before any formatter sees them:
the value goes, the name stays (`token=***`), so the log still says what was asked."""

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

MASK = "***"

# A query parameter whose name says it holds a credential: token, ticket, access_token,
# hub.verify_token, secret, password, signature, api_key...
_QUERY = re.compile(
    r"(?i)([?&;][^=&\s\"']*?(?:token|ticket|secret|passw(?:or)?d|signature|api[_-]?key|"
    r"apikey|session|auth)[^=&\s\"']*=)[^&\s\"']*"
)
# Credentials carried in a path: the tracking page's token, a Telegram bot token in a
# Bot API URL (bot<id>:<secret>).
_PATH = (
    (re.compile(r"(/track/)[^/?\s\"']+"), r"\1" + MASK),
    (re.compile(r"(/bot)\d+:[A-Za-z0-9_-]+"), r"\1" + MASK),
)


def redact(text: str) -> str:
    text = _QUERY.sub(r"\1" + MASK, text)
    for pattern, replacement in _PATH:
        text = pattern.sub(replacement, text)
    return text


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _clean(v) for k, v in record.args.items()}
        return True


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging setup with the filter on every handler, plus the root logger
    (our own modules) on stderr through the same filter."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": f"{__name__}.RedactSecrets"}}
    config["formatters"]["plain"] = {"format": "%(levelname)s:%(name)s:%(message)s"}
    config["handlers"]["plain"] = {
        "formatter": "plain",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["root"] = {"handlers": ["plain"], "level": level.upper()}
    return config
