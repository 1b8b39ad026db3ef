"""Telegram bots as channel accounts: preparing a new bot (getMe, then setWebhook or
deleteWebhook) and turning a parsed update into inbox rows. Webhook and poller share
`store_update`, so both modes store exactly the same thing.

Channel settings: mode ("webhook" | "polling"), bot_id, bot_username, api_server,
poll_offset (polling: the getUpdates offset that still has to confirm stored messages,
written in the same transaction as they are; absent once Telegram has it, see poller.py).
Credentials: bot_token, webhook_secret."""

import hmac
import logging
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import service as channels_service
from app.channels.models import ChannelAccount
from app.config import Settings
from app.core.errors import Conflict, Invalid, Unavailable
from app.ingest.service import apply_edit, ingest
from connectors import registry
from connectors.base import PermanentError, TemporaryError
from connectors.telegram import client
from connectors.telegram.connector import TelegramConnector
from connectors.telegram.parse import ParsedUpdate

log = logging.getLogger(__name__)

MODES = ("webhook", "polling")


def configure_connector(settings: Settings) -> None:
    """Install the connector with this deployment's send timeout."""
    registry.register(TelegramConnector(send_timeout=settings.telegram_send_timeout_seconds))


def webhook_url(public_url: str, channel_id: int) -> str:
    return f"{public_url.rstrip('/')}/webhooks/telegram/{channel_id}"


async def prepare(
    session: AsyncSession,
    config: Settings,
    settings: dict[str, Any],
    credentials: dict[str, str],
    *,
    channel: ChannelAccount | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Checks the token with getMe before anything is stored. Returns the settings and
    credentials to store. Never puts the token in an error message. `channel`: the channel
    being changed, whose token must stay that of the same bot."""
    token = credentials.get("bot_token", "").strip()
    if not token:
        raise Invalid("credentials.bot_token is required (from @BotFather)", "invalid_bot_token")
    mode = settings.get("mode") or ("webhook" if config.public_url else "polling")
    if mode not in MODES:  # also checked by the settings model (app/telegram/plugin.py)
        raise Invalid("settings.mode must be 'webhook' or 'polling'", "invalid_settings")
    if mode == "webhook" and not config.public_url.startswith(("http://", "https://")):
        raise Invalid(
            "Webhook mode needs CHATCENTRE_PUBLIC_URL (the address Telegram can reach); "
            "without one use settings.mode 'polling'",
            "public_url_missing",
        )
    api_server = str(settings.get("api_server") or config.telegram_api_server)
    if not api_server.startswith(("http://", "https://")):
        raise Invalid("settings.api_server must be an http(s) URL", "invalid_settings")
    try:
        me = await client.get_me(token, api_server)
    except client.InvalidToken as exc:
        raise Invalid(str(exc), "invalid_bot_token") from None
    except (TemporaryError, PermanentError) as exc:
        raise Unavailable(f"Could not reach the Telegram Bot API: {exc.reason}") from None
    if channel is not None and channel.settings.get("bot_id") != me.id:
        raise Conflict(
            "This token belongs to another bot: connect that one as a new channel",
            "different_bot",
        )
    taken = await session.scalar(
        select(ChannelAccount.id).where(
            ChannelAccount.type == TelegramConnector.channel_type,
            ChannelAccount.settings["bot_id"].as_string() == str(me.id),
            ChannelAccount.deleted_at.is_(None),
            ChannelAccount.id != (channel.id if channel is not None else -1),
        )
    )
    if taken is not None:
        raise Conflict(f"This bot is already connected as channel {taken}", "bot_already_connected")
    # A new setup starts polling afresh: an offset from before could confirm (drop) updates.
    stored = {k: v for k, v in settings.items() if k != "poll_offset"}
    stored |= {"mode": mode, "bot_id": me.id, "bot_username": me.username, "api_server": api_server}
    return stored, {**credentials, "bot_token": token}


async def connect(config: Settings, channel: ChannelAccount) -> None:
    """Points Telegram at us: setWebhook with a fresh secret, or deleteWebhook so that
    getUpdates works. Call after the channel row has its id, before committing it."""
    token = channel.credentials["bot_token"]
    api_server = channel.settings.get("api_server")
    try:
        if channel.settings["mode"] == "webhook":
            secret = secrets.token_urlsafe(32)  # A-Z a-z 0-9 _ -, as Telegram requires
            await client.set_webhook(
                token, api_server, webhook_url(config.public_url, channel.id), secret
            )
            channel.credentials = {**channel.credentials, "webhook_secret": secret}
        else:
            await client.delete_webhook(token, api_server)
            channel.credentials = {
                k: v for k, v in channel.credentials.items() if k != "webhook_secret"
            }
    except (TemporaryError, PermanentError) as exc:
        raise Unavailable(f"Telegram refused to set up the bot: {exc.reason}") from None
    log.info("telegram channel %s connected in %s mode", channel.id, channel.settings["mode"])


async def disconnect(channel: ChannelAccount) -> None:
    """Stops Telegram delivering to us: deleteWebhook in webhook mode (a polling bot stops
    when its poller sees the channel inactive). A token Telegram no longer accepts has no
    webhook left to delete; anything else temporary is a 503 and nothing changes."""
    if channel.settings.get("mode") != "webhook":
        return
    try:
        await client.delete_webhook(
            channel.credentials["bot_token"], channel.settings.get("api_server")
        )
    except TemporaryError as exc:
        raise Unavailable(f"Telegram could not remove the webhook: {exc.reason}") from None
    except PermanentError as exc:
        log.warning("telegram channel %s: deleteWebhook refused (%s)", channel.id, exc.reason)
    log.info("telegram channel %s disconnected", channel.id)


async def webhook_channel(session: AsyncSession, channel_id: int) -> ChannelAccount:
    return await channels_service.webhook_channel(
        session, channel_id, TelegramConnector.channel_type, "Unknown Telegram channel"
    )


def secret_matches(channel: ChannelAccount, given: str | None) -> bool:
    expected = channel.credentials.get("webhook_secret")
    if not expected or given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


async def store_update(
    session: AsyncSession, channel: ChannelAccount, parsed: ParsedUpdate
) -> bool:
    """Ingests one update (caller commits). Returns False when it changed nothing."""
    # An edit of a message that never reached us is kept as the message itself.
    if parsed.edit is not None and await apply_edit(session, channel, parsed.edit) is not None:
        return True
    result = await ingest(session, channel, parsed.message)
    return not result.duplicate
