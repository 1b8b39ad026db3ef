"""The website chat widget as a channel plugin: allowed origins, the identity secret that
proves a shop's signed-in visitors, the widget API and its per-widget CORS."""

import secrets
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from fastapi import APIRouter, FastAPI
from pydantic import Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from app.attachments.api import MULTIPART_OVERHEAD
from app.channels.models import ChannelAccount
from app.channels.plugin import BusListener, ChannelPlugin, ChannelSettings, Prepared
from app.config import Settings
from app.contacts.identity import proven_widget_id
from app.core.context import AppContext
from app.webchat import service
from app.webchat.api import UPLOAD_PATTERN, admin_router, router
from app.webchat.cors import WidgetCorsMiddleware
from app.webchat.schemas import WidgetTexts
from connectors import registry as connectors
from connectors.webchat.connector import WebchatConnector

WidgetLanguage = Literal["en", "ru"]  # app/console/i18n.py LANGUAGES (tests/webchat checks)


class WebchatSettings(ChannelSettings):
    allowed_origins: list[str] = Field(default_factory=list)
    # The widget's texts per language: {"ru": {"title": ..., "greeting": ...}, "en": {...}}.
    texts: dict[WidgetLanguage, WidgetTexts] = Field(default_factory=dict)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        if not all(o == "*" or o.startswith(("http://", "https://")) for o in origins):
            raise ValueError("origins look like https://shop.example")
        return [o.rstrip("/") for o in origins]


class WebchatPlugin(ChannelPlugin):
    type = WebchatConnector.channel_type
    label = "Web chat"
    contact_noun = "Visitor"
    icon = "/console/icon-webchat.svg"
    capabilities = WebchatConnector.capabilities
    settings_model = WebchatSettings
    credential_names = ("identity_secret",)  # generated when not given

    @property
    def default_name(self) -> str:
        return "Website chat"

    def configure(self, settings: Settings) -> None:
        connectors.register(WebchatConnector())

    def routers(self) -> Sequence[APIRouter]:
        return (router, admin_router)  # the widget API; the admins' revoke route

    def wider_body_limits(self, settings: Settings) -> Mapping[str, int]:
        return {UPLOAD_PATTERN: settings.widget_attachment_max_bytes + MULTIPART_OVERHEAD}

    def install(self, app: FastAPI, settings: Settings) -> None:
        app.add_middleware(WidgetCorsMiddleware)

    def bus_listeners(self, ctx: AppContext) -> Sequence[BusListener]:
        # Revoked visitors' cached token versions go before the hub closes their sockets.
        return (service.revocation_listener(ctx),)

    async def prepare(
        self,
        session: AsyncSession,
        config: Settings,
        settings: dict[str, Any],
        credentials: dict[str, str],
        channel: ChannelAccount | None,
    ) -> Prepared:
        generated: dict[str, str] = {}
        if channel is None and "identity_secret" not in credentials:
            generated["identity_secret"] = secrets.token_urlsafe(32)
        return Prepared(settings, {**credentials, **generated}, generated)

    def identity_keys(self, lookup: Mapping[str, str | None]) -> list[str]:
        identifier = lookup.get("widget_identifier")
        return [proven_widget_id(identifier)] if identifier else []

    def cli_values(self, flags: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        return {"allowed_origins": list(flags.get("origin") or [])}, {}

    def describe(self, channel: ChannelAccount, public_url: str) -> list[str]:
        return [f"widget_key: {channel.public_key}"]
