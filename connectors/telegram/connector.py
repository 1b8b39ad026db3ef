"""Telegram: outbound through aiogram (text split at 4096, media by URL or file_id, our
uploads as multipart photo/document, inline buttons) and media download through getFile.

Channel credentials: bot_token. Channel settings: api_server (Bot API base URL).

A text that still arrives too long (queued before that, or a caption left over) goes out as
several messages here. If a later part fails and is retried, the parts already sent are
remembered (per process, for a while) and not sent again."""

import mimetypes
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import partial
from io import BytesIO
from pathlib import PurePosixPath
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.exceptions import AiogramError, TelegramBadRequest, TelegramNotFound
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.types import Message as TgMessage

from connectors.base import (
    Capabilities,
    Media,
    MediaUnavailable,
    OutboundFile,
    OutboundMessage,
    PermanentError,
    SendResult,
    TemporaryError,
)
from connectors.telegram.client import close_shared_sessions, map_error, scrub, shared_bot
from connectors.text import split_text as split
from connectors.text import utf16_len as _utf16_len

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# What sendPhoto takes (Telegram recompresses photos); anything else goes as a document.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png"})
PHOTO_MAX_BYTES = 10 * 1024 * 1024
_PROGRESS_LIMIT = 2048
_DEFAULT_TYPES = {
    "image": "image/jpeg",
    "sticker": "image/webp",
    "voice": "audio/ogg",
    "video": "video/mp4",
    "animation": "video/mp4",
}

Step = Callable[[Bot, InlineKeyboardMarkup | None], Awaitable[TgMessage]]


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    return split(text, limit)


def inline_keyboard(buttons: Any) -> InlineKeyboardMarkup | None:
    """meta["buttons"]: rows of {"text", "data"|"callback_data"|"url"}; a flat list is one
    button per row."""
    if not buttons or not isinstance(buttons, list):
        return None
    rows = [row if isinstance(row, list) else [row] for row in buttons]
    keyboard: list[list[InlineKeyboardButton]] = []
    for row in rows:
        line = []
        for b in row:
            if not isinstance(b, dict) or not b.get("text"):
                raise PermanentError(f"Invalid inline button: {b!r}")
            if b.get("url"):
                line.append(InlineKeyboardButton(text=str(b["text"]), url=str(b["url"])))
            else:
                data = b.get("data", b.get("callback_data", b["text"]))
                line.append(InlineKeyboardButton(text=str(b["text"]), callback_data=str(data)))
        keyboard.append(line)
    return InlineKeyboardMarkup(inline_keyboard=keyboard)


def _attachment_step(chat_id: int, attachment: dict[str, Any], caption: str | None) -> Step:
    source = attachment.get("file_id") or attachment.get("url")
    if not isinstance(source, str) or not source:
        raise PermanentError("An attachment needs a url or a file_id")
    kind = attachment.get("type", "document")

    async def step(bot: Bot, markup: InlineKeyboardMarkup | None) -> TgMessage:
        common: dict[str, Any] = {"caption": caption, "reply_markup": markup}
        if kind in ("image", "photo"):
            return await bot.send_photo(chat_id, source, **common)
        if kind == "video":
            return await bot.send_video(chat_id, source, **common)
        if kind == "audio":
            return await bot.send_audio(chat_id, source, **common)
        if kind == "voice":
            return await bot.send_voice(chat_id, source, **common)
        if kind == "animation":
            return await bot.send_animation(chat_id, source, **common)
        if kind == "sticker":
            return await bot.send_sticker(chat_id, source, reply_markup=markup)
        return await bot.send_document(chat_id, source, **common)

    return step


def _file_step(chat_id: int, file: OutboundFile, caption: str | None) -> Step:
    """An upload goes up with the call (multipart): as a photo when Telegram takes it as
    one, else as a document (which keeps the file as it is)."""
    upload = BufferedInputFile(file.content, filename=file.filename)
    as_photo = file.content_type in PHOTO_TYPES and len(file.content) <= PHOTO_MAX_BYTES

    async def step(bot: Bot, markup: InlineKeyboardMarkup | None) -> TgMessage:
        if as_photo:
            return await bot.send_photo(chat_id, upload, caption=caption, reply_markup=markup)
        return await bot.send_document(chat_id, upload, caption=caption, reply_markup=markup)

    return step


def _text_step(chat_id: int, text: str) -> Step:
    async def step(bot: Bot, markup: InlineKeyboardMarkup | None) -> TgMessage:
        return await bot.send_message(chat_id, text, reply_markup=markup)

    return step


def _steps(chat_id: int, message: OutboundMessage) -> list[Step]:
    text = message.text or ""
    media: list[Callable[[str | None], Step]] = [
        partial(_attachment_step, chat_id, a) for a in message.attachments or []
    ]
    media += [partial(_file_step, chat_id, f) for f in message.files]
    if media and _utf16_len(text) <= CAPTION_LIMIT:  # the text is the first file's caption
        return [media[0](text or None)] + [make(None) for make in media[1:]]
    steps = [_text_step(chat_id, part) for part in split_text(text)] if text else []
    steps += [make(None) for make in media]
    if not steps:
        raise PermanentError("Nothing to send: no text and no attachments")
    return steps


class TelegramConnector:
    channel_type = "telegram"
    # A bot may not write first: a person must have started it.
    capabilities = Capabilities(
        media=True,
        edits=True,
        templates=False,
        typing=True,
        read_receipts=False,
        reply_window=False,
        initiates=False,
        max_text_length=TEXT_LIMIT,
    )
    max_text_length: int | None = TEXT_LIMIT  # the outbox splits longer texts at queue time
    # Telegram's documented limits: ~30 messages/s per bot, ~1/s per chat.
    rate_per_account: str | None = "30/second"
    rate_per_chat: str | None = "1/second"

    def __init__(self, send_timeout: float = 30.0) -> None:
        # How long one Bot API call of a send may take; a timeout is retried (TemporaryError),
        # so a hung Bot API holds a dispatcher's send slot no longer than this.
        self.send_timeout = send_timeout
        # (bot id, our message id) -> Telegram ids of the parts already sent.
        self._progress: OrderedDict[tuple[str, int], list[int]] = OrderedDict()

    async def close(self) -> None:
        """At shutdown: the Bot API connection pools this event loop opened."""
        await close_shared_sessions()

    async def send(
        self, credentials: dict[str, Any], settings: dict[str, Any], message: OutboundMessage
    ) -> SendResult:
        token = str(credentials.get("bot_token", ""))
        try:
            chat_id = int(message.recipient_external_id)
        except ValueError:
            raise PermanentError("The recipient is not a Telegram chat id") from None
        steps = _steps(chat_id, message)
        markup = inline_keyboard(message.meta.get("buttons"))
        key = (token.partition(":")[0], message.message_id)
        sent = self._progress.pop(key, [])
        try:
            async with shared_bot(token, settings.get("api_server"), self.send_timeout) as bot:
                for i, step in enumerate(steps[len(sent) :], start=len(sent)):
                    result = await step(bot, markup if i == len(steps) - 1 else None)
                    sent.append(result.message_id)
        except AiogramError as exc:
            error = map_error(exc, token)
            if isinstance(error, TemporaryError) and sent:
                self._remember(key, sent)
            raise error from None
        except aiohttp.ClientError as exc:
            raise TemporaryError(scrub(str(exc), token)) from None
        return SendResult(provider_message_id=",".join(str(i) for i in sent))

    async def send_typing(
        self, credentials: dict[str, Any], settings: dict[str, Any], recipient_external_id: str
    ) -> None:
        """The client sees "typing..." for 5 seconds (sendChatAction)."""
        token = str(credentials.get("bot_token", ""))
        try:
            chat_id = int(recipient_external_id)
        except ValueError:
            raise PermanentError("The recipient is not a Telegram chat id") from None
        try:
            async with shared_bot(token, settings.get("api_server"), self.send_timeout) as bot:
                await bot.send_chat_action(chat_id, "typing")
        except AiogramError as exc:
            raise map_error(exc, token) from None
        except aiohttp.ClientError as exc:
            raise TemporaryError(scrub(str(exc), token)) from None

    def _remember(self, key: tuple[str, int], sent: list[int]) -> None:
        self._progress[key] = sent
        while len(self._progress) > _PROGRESS_LIMIT:
            self._progress.popitem(last=False)

    async def fetch_media(
        self, credentials: dict[str, Any], settings: dict[str, Any], attachment: dict[str, Any]
    ) -> Media:
        token = str(credentials.get("bot_token", ""))
        file_id = attachment.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise MediaUnavailable("The attachment has no Telegram file_id")
        try:
            async with shared_bot(token, settings.get("api_server")) as bot:
                file = await bot.get_file(file_id)
                if not file.file_path:
                    raise MediaUnavailable("Telegram does not serve this file (over 20 MB)")
                buffer = BytesIO()
                await bot.download_file(file.file_path, destination=buffer, timeout=60)
        except (TelegramBadRequest, TelegramNotFound) as exc:
            raise MediaUnavailable(scrub(exc.message, token)) from None
        except aiohttp.ClientResponseError as exc:
            if exc.status in (400, 404):
                raise MediaUnavailable(f"Telegram has no such file ({exc.status})") from None
            raise TemporaryError(f"File download failed with HTTP {exc.status}") from None
        except AiogramError as exc:
            raise map_error(exc, token) from None
        except aiohttp.ClientError as exc:
            raise TemporaryError(scrub(str(exc), token)) from None
        path = PurePosixPath(file.file_path)
        content_type = (
            attachment.get("mime_type")
            or mimetypes.guess_type(path.name)[0]
            or _DEFAULT_TYPES.get(str(attachment.get("type")))
            or "application/octet-stream"
        )
        return Media(
            content=buffer.getvalue(),
            content_type=str(content_type),
            filename=attachment.get("file_name") or path.name,
        )
