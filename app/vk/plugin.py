"""VK community messages as a channel plugin: a community token checked with groups.getById,
Callback API or Bots Long Poll, the webhook route and the pollers, and the rule that a
person who denied the community's messages cannot be written to."""

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.channels.plugin import ChannelPlugin, ChannelSettings, Prepared, Recipient, Worker
from app.config import Settings
from app.core.context import AppContext
from app.core.errors import Conflict
from app.vk import service
from app.vk.api import router
from app.vk.poller import vk_pollers
from connectors.vk.connector import VkConnector

# What a shop may hold for a VK user: 743784474, id743784474, vk.com/id743784474.
_VK_ID = re.compile(r"^(?:(?:https?://)?(?:m\.)?vk\.(?:com|ru)/)?(?:id)?(\d{1,15})$")


class VkSettings(ChannelSettings):
    mode: Literal["callback", "longpoll"] | None = None
    group_id: int | None = Field(default=None, gt=0)
    confirmation_code: str | None = Field(default=None, min_length=1, max_length=64)
    api_base: str | None = None

    @field_validator("api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value


class VkPlugin(ChannelPlugin):
    type = VkConnector.channel_type
    label = "VK"
    icon = "/console/icon-vk.svg"
    capabilities = VkConnector.capabilities
    settings_model = VkSettings
    credential_names = ("access_token", "secret")
    derived_settings = ("group_name", "group_screen_name", "lp_ts")

    @property
    def default_name(self) -> str:
        return "VK community"

    def configure(self, settings: Settings) -> None:
        service.configure_connector(settings)

    def routers(self) -> Sequence[APIRouter]:
        return (router,)

    def workers(self, ctx: AppContext) -> Sequence[tuple[str, Worker]]:
        return (("vk-pollers", vk_pollers(ctx)),)

    # ------------------------------------------------------------ channel lifecycle

    def setup_changed(
        self, channel: ChannelAccount, settings: dict[str, Any], credentials: dict[str, Any]
    ) -> bool:
        before = channel.settings
        return any(
            settings.get(k) != before.get(k)
            for k in ("mode", "group_id", "api_base", "confirmation_code")
        ) or any(credentials.get(k) != channel.credentials.get(k) for k in self.credential_names)

    async def prepare(
        self,
        session: AsyncSession,
        config: Settings,
        settings: dict[str, Any],
        credentials: dict[str, str],
        channel: ChannelAccount | None,
    ) -> Prepared:
        stored, creds, generated = await service.prepare(
            session, config, settings, credentials, channel
        )
        return Prepared(stored, creds, generated)

    async def setup(self, config: Settings, channel: ChannelAccount) -> None:
        await service.connect(config, channel)

    # ------------------------------------------------------------ conversation rules

    def check_recipient(self, channel: ChannelAccount, recipient: Recipient) -> None:
        """VK answers 901/902 to a send to someone who denied (or never allowed) the
        community's messages: refused here, before it is queued."""
        if not recipient.reachable:
            raise Conflict(
                "This VK user cannot get messages from the community: "
                f"{recipient.unreachable_reason or 'unreachable'}. They can write or press "
                '"Allow messages" again.',
                "vk_messages_denied",
            )

    def identity_keys(self, lookup: Mapping[str, str | None]) -> list[str]:
        match = _VK_ID.match((lookup.get("vk_id") or "").strip())
        return [match.group(1)] if match else []

    # ------------------------------------------------------------ the CLI

    def cli_values(self, flags: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        settings = {
            k: flags[f]
            for k, f in (
                ("group_id", "group_id"),
                ("mode", "mode"),
                ("confirmation_code", "confirmation_code"),
            )
            if flags.get(f)
        }
        credentials = {k: str(flags[k]) for k in ("access_token", "secret") if flags.get(k)}
        return settings, credentials

    def describe(self, channel: ChannelAccount, public_url: str) -> list[str]:
        s = channel.settings
        lines = [f"community {s.get('group_name')} (id {s['group_id']}), {s['mode']} mode"]
        if s["mode"] == "callback":
            lines += [
                "In the community: Manage -> API usage -> Callback API, API version 5.199:",
                f"  server address: {service.webhook_url(public_url, channel.id)}",
                f"  confirmation string answered: {s.get('confirmation_code')}",
                "  secret key: the channel's secret; event types: message_new, message_edit, "
                "message_allow, message_deny",
            ]
        else:
            lines.append("events are fetched by `chatcentre serve` or `chatcentre worker`")
        return lines
