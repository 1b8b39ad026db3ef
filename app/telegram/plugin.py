"""Telegram bots as a channel plugin: a bot token checked with getMe, webhook or polling
mode, the webhook route and the pollers."""

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import ConfigDict, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.channels.plugin import ChannelPlugin, ChannelSettings, Prepared, Worker
from app.config import Settings
from app.core.context import AppContext
from app.telegram import service
from app.telegram.api import router
from app.telegram.poller import telegram_pollers
from connectors.telegram.connector import TelegramConnector


class TelegramSettings(ChannelSettings):
    model_config = ConfigDict(extra="allow")
    mode: Literal["webhook", "polling"] | None = None
    api_server: str | None = None

    @field_validator("api_server")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value


class TelegramPlugin(ChannelPlugin):
    type = TelegramConnector.channel_type
    label = "Telegram"
    icon = "/console/icon-telegram.svg"
    capabilities = TelegramConnector.capabilities
    settings_model = TelegramSettings
    credential_names = ("bot_token",)
    derived_settings = ("bot_id", "bot_username", "poll_offset")

    @property
    def default_name(self) -> str:
        return "Telegram bot"

    def configure(self, settings: Settings) -> None:
        service.configure_connector(settings)

    def routers(self) -> Sequence[APIRouter]:
        return (router,)

    def workers(self, ctx: AppContext) -> Sequence[tuple[str, Worker]]:
        return (("telegram-pollers", telegram_pollers(ctx)),)

    def setup_changed(
        self, channel: ChannelAccount, settings: dict[str, Any], credentials: dict[str, Any]
    ) -> bool:
        before = channel.settings
        return (
            settings.get("mode") != before.get("mode")
            or settings.get("api_server") != before.get("api_server")
            or credentials.get("bot_token") != channel.credentials.get("bot_token")
        )

    async def prepare(
        self,
        session: AsyncSession,
        config: Settings,
        settings: dict[str, Any],
        credentials: dict[str, str],
        channel: ChannelAccount | None,
    ) -> Prepared:
        settings, credentials = await service.prepare(
            session, config, settings, credentials, channel=channel
        )
        return Prepared(settings, credentials)

    async def setup(self, config: Settings, channel: ChannelAccount) -> None:
        await service.connect(config, channel)

    async def teardown(self, config: Settings, channel: ChannelAccount) -> None:
        await service.disconnect(channel)

    def identity_keys(self, lookup: Mapping[str, str | None]) -> list[str]:
        telegram_id = lookup.get("telegram_id")
        return [telegram_id] if telegram_id else []

    def cli_values(self, flags: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        settings = {"mode": flags["mode"]} if flags.get("mode") else {}
        credentials = {"bot_token": flags["token"]} if flags.get("token") else {}
        return settings, credentials

    def describe(self, channel: ChannelAccount, public_url: str) -> list[str]:
        bot, how = channel.settings.get("bot_username"), channel.settings["mode"]
        lines = [f"bot @{bot}, {how} mode"]
        if how == "webhook":
            lines.append(f"webhook set to {service.webhook_url(public_url, channel.id)}")
        else:
            lines.append("updates are fetched by `chatcentre serve` or `chatcentre worker`")
        return lines
