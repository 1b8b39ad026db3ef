"""aiogram plumbing: a Bot per call (or per poller) against a configurable API server, the
channel-setup calls, and the mapping of aiogram's errors onto ours.

The bot token is only ever passed in and used for the call; it is scrubbed from any error
text we build, because aiohttp puts full URLs (which contain the token) in its messages."""

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

import certifi
from aiogram import Bot, methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.base import BaseSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.methods.base import Response
from aiogram.utils.token import TokenValidationError, extract_bot_id
from aiohttp import TCPConnector

from connectors.base import PermanentError, TemporaryError

# aiogram parses every answer as Response[T]. pydantic caches that class only weakly and it
# sits in a reference cycle, so each full garbage collection drops it and the next call
# rebuilds it (milliseconds of schema building, many times a minute in a busy dispatcher).
# Holding the classes of the methods we call keeps them built once.
_RESPONSE_CLASSES = [
    Response[method.__returning__]  # type: ignore[name-defined]
    for method in (
        methods.SendMessage,
        methods.SendPhoto,
        methods.SendDocument,
        methods.SendVideo,
        methods.SendAudio,
        methods.SendVoice,
        methods.SendAnimation,
        methods.SendSticker,
        methods.GetMe,
        methods.GetFile,
        methods.GetUpdates,
        methods.SetWebhook,
        methods.DeleteWebhook,
        methods.AnswerCallbackQuery,
    )
]

DEFAULT_API_SERVER = "https://api.telegram.org"
# What we ask Telegram to deliver (webhook and polling alike).
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
# Descriptions of a 400 that mean the chat itself is gone for us.
_UNREACHABLE_400 = ("chat not found", "user not found", "peer_id_invalid", "user is deactivated")


class InvalidToken(ValueError):
    """Telegram does not know this token (or it is not shaped like one)."""


@dataclass(frozen=True, slots=True)
class BotInfo:
    id: int
    username: str | None
    first_name: str


def bot_id_of(token: str) -> int:
    try:
        return extract_bot_id(token)
    except TokenValidationError as exc:
        raise InvalidToken("The bot token is not in the form 123456:ABC-DEF...") from exc


def scrub(text: str, token: str) -> str:
    return text.replace(token, "<token>") if token else text


@cache
def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())


class _Session(AiohttpSession):
    def __init__(self, **kwargs: Any) -> None:
        # AiohttpSession.__init__ as in aiogram 3.31, minus building a new SSL context (it
        # reads the CA bundle: 20-170 ms of CPU that blocks the event loop) per session,
        # which a per-call session paid on every send. One shared context is safe.
        BaseSession.__init__(self, **kwargs)
        self._session = None
        self._connector_type = TCPConnector
        self._connector_init = {"ssl": _ssl_context(), "limit": 100, "ttl_dns_cache": 3600}
        self._should_reset_connector = True
        self._proxy = None

    async def close(self) -> None:
        # aiogram sleeps 250 ms here for SSL shutdown; a per-call session would pay that on
        # every send, so close the connections and move on.
        if self._session is not None and not self._session.closed:
            await self._session.close()


@asynccontextmanager
async def open_bot(
    token: str, api_server: str | None, request_timeout: float = 60.0
) -> AsyncIterator[Bot]:
    """A Bot with its own HTTP session, closed on exit: nothing outlives the caller."""
    bot_id_of(token)  # aiogram would raise its own error; ours is clearer
    session = _Session(
        api=TelegramAPIServer.from_base(api_server or DEFAULT_API_SERVER),
        timeout=request_timeout,
    )
    try:
        yield Bot(token, session=session)
    finally:
        await session.close()


# One HTTP session (connection pool) per API server, event loop and request timeout, shared
# by every send: a new TCP + TLS connection per message capped throughput at a few dozen
# sends/s. The session holds no credentials; the token goes into a Bot made per call.
_shared_sessions: dict[tuple[str, int, float], _Session] = {}


@asynccontextmanager
async def shared_bot(
    token: str, api_server: str | None, request_timeout: float = 60.0
) -> AsyncIterator[Bot]:
    """A Bot on the shared session (for sends and downloads): nothing is closed on exit."""
    bot_id_of(token)
    server = api_server or DEFAULT_API_SERVER
    key = (server, id(asyncio.get_running_loop()), request_timeout)
    session = _shared_sessions.get(key)
    if session is None:
        session = _Session(api=TelegramAPIServer.from_base(server), timeout=request_timeout)
        _shared_sessions[key] = session
    yield Bot(token, session=session)


async def close_shared_sessions() -> None:
    """At shutdown: close the pools this event loop opened."""
    loop_id = id(asyncio.get_running_loop())
    for key in [k for k in _shared_sessions if k[1] == loop_id]:
        await _shared_sessions.pop(key).close()


def map_error(exc: Exception, token: str) -> TemporaryError | PermanentError:
    """aiogram's exceptions -> retry later, or give up (and whether the chat is gone)."""
    message = scrub(getattr(exc, "message", None) or str(exc) or type(exc).__name__, token)
    if isinstance(exc, TelegramRetryAfter):
        return TemporaryError(f"Too Many Requests: retry after {exc.retry_after}", exc.retry_after)
    if isinstance(exc, TelegramForbiddenError):
        return PermanentError(message, recipient_unreachable=True)
    if isinstance(exc, TelegramMigrateToChat):
        return PermanentError(
            f"The group moved to supergroup {exc.migrate_to_chat_id}", recipient_unreachable=True
        )
    if isinstance(exc, TelegramBadRequest):
        gone = any(marker in message.lower() for marker in _UNREACHABLE_400)
        return PermanentError(message, recipient_unreachable=gone)
    if isinstance(exc, TelegramUnauthorizedError):
        return PermanentError(f"The bot token was rejected by Telegram: {message}")
    if isinstance(exc, TelegramNotFound | TelegramEntityTooLarge):
        return PermanentError(message)
    if isinstance(exc, ClientDecodeError):
        # A proxy in front of Telegram answering 502 with an HTML page ends up here.
        return TemporaryError("Telegram answered with something that is not JSON")
    # 5xx (TelegramServerError), network errors and timeouts, 409 and anything unknown.
    return TemporaryError(message)


async def get_me(token: str, api_server: str | None) -> BotInfo:
    async with open_bot(token, api_server, request_timeout=15) as bot:
        try:
            me = await bot.get_me()
        except (TelegramUnauthorizedError, TelegramNotFound) as exc:
            raise InvalidToken(f"Telegram rejected the bot token ({exc.message})") from exc
        except AiogramError as exc:
            raise map_error(exc, token) from None
    return BotInfo(id=me.id, username=me.username, first_name=me.first_name)


async def set_webhook(token: str, api_server: str | None, url: str, secret: str) -> None:
    async with open_bot(token, api_server, request_timeout=15) as bot:
        try:
            await bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        except AiogramError as exc:
            raise map_error(exc, token) from None


async def delete_webhook(token: str, api_server: str | None) -> None:
    async with open_bot(token, api_server, request_timeout=15) as bot:
        try:
            await bot.delete_webhook(drop_pending_updates=False)
        except AiogramError as exc:
            raise map_error(exc, token) from None


async def get_updates(
    bot: Bot, offset: int | None, wait_seconds: int, limit: int = 100
) -> list[dict[str, Any]]:
    """One long poll. Returns the updates as Telegram's JSON: aiogram's models keep unknown
    fields and serialise dates back to Unix time, so the round trip is lossless."""
    try:
        updates = await bot.get_updates(
            offset=offset,
            limit=limit,
            timeout=wait_seconds,
            allowed_updates=ALLOWED_UPDATES,
            request_timeout=wait_seconds + 10,
        )
    except AiogramError as exc:
        raise map_error(exc, bot.token) from None
    return [u.model_dump(mode="json", by_alias=True, exclude_none=True) for u in updates]


async def answer_callback(bot: Bot, callback_query_id: str) -> None:
    try:
        await bot.answer_callback_query(callback_query_id)
    except TelegramAPIError as exc:
        raise map_error(exc, bot.token) from None
