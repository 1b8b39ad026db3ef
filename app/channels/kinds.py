"""What differs per channel type, behind one small contract: a settings check (the same
rules on create and on PATCH), `prepare` (credentials and what the provider says about
them, before anything is stored), and `setup` / `teardown` (point the provider at us, or
stop it). The channels service drives them; it never branches on the type itself."""

import secrets
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount, ChannelType
from app.config import Settings
from app.core.errors import Invalid
from app.telegram import service as telegram_service
from app.whatsapp import service as whatsapp_service


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return value


class WebchatSettings(BaseModel):
    model_config = ConfigDict(extra="allow")
    allowed_origins: list[str] = []

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        if not all(o == "*" or o.startswith(("http://", "https://")) for o in origins):
            raise ValueError("origins look like https://shop.example")
        return [o.rstrip("/") for o in origins]


class TelegramSettings(BaseModel):
    model_config = ConfigDict(extra="allow")
    mode: Literal["webhook", "polling"] | None = None
    api_server: str | None = None

    _api_server = field_validator("api_server")(_http_url)


def _checked(model: type[BaseModel], settings: dict[str, Any]) -> dict[str, Any]:
    try:
        return model.model_validate(settings).model_dump(exclude_none=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise Invalid(f"settings.{where}: {err['msg']}", "invalid_settings") from None


class ChannelKind:
    """The defaults: settings taken as they are, nothing to tell a provider."""

    # Settings only chatcentre writes (what the provider said, polling state): never a PATCH.
    derived: tuple[str, ...] = ()

    def validate(self, settings: dict[str, Any]) -> dict[str, Any]:
        return settings

    def setup_changed(self, channel: ChannelAccount, settings: dict[str, Any], creds: Any) -> bool:
        """Whether a PATCH to these settings/credentials needs prepare + setup again."""
        return False

    async def prepare(
        self,
        session: AsyncSession,
        config: Settings,
        settings: dict[str, Any],
        credentials: dict[str, str],
        channel: ChannelAccount | None,
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        """(settings, credentials, credentials generated to show once). `channel`: the
        channel being changed (None on create)."""
        return settings, credentials, {}

    async def setup(self, config: Settings, channel: ChannelAccount) -> None:
        """The channel (with its id) is about to be active: connect it at the provider."""

    async def teardown(self, config: Settings, channel: ChannelAccount) -> None:
        """The channel stops (deactivated, deleted): disconnect it at the provider."""


class WebchatKind(ChannelKind):
    def validate(self, settings: dict[str, Any]) -> dict[str, Any]:
        return _checked(WebchatSettings, settings)

    async def prepare(
        self,
        session: AsyncSession,
        config: Settings,
        settings: dict[str, Any],
        credentials: dict[str, str],
        channel: ChannelAccount | None,
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        generated: dict[str, str] = {}
        if channel is None and "identity_secret" not in credentials:
            generated["identity_secret"] = secrets.token_urlsafe(32)
        return settings, {**credentials, **generated}, generated


class WhatsAppKind(ChannelKind):
    def validate(self, settings: dict[str, Any]) -> dict[str, Any]:
        return whatsapp_service.validate_settings(settings)

    def setup_changed(self, channel: ChannelAccount, settings: dict[str, Any], creds: Any) -> bool:
        return bool(creds != channel.credentials)

    async def prepare(
        self,
        session: AsyncSession,
        config: Settings,
        settings: dict[str, Any],
        credentials: dict[str, str],
        channel: ChannelAccount | None,
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        return settings, whatsapp_service.prepare_credentials(credentials), {}


class TelegramKind(ChannelKind):
    derived = ("bot_id", "bot_username", "poll_offset")

    def validate(self, settings: dict[str, Any]) -> dict[str, Any]:
        return _checked(TelegramSettings, settings)

    def setup_changed(self, channel: ChannelAccount, settings: dict[str, Any], creds: Any) -> bool:
        before = channel.settings
        return (
            settings.get("mode") != before.get("mode")
            or settings.get("api_server") != before.get("api_server")
            or creds.get("bot_token") != channel.credentials.get("bot_token")
        )

    async def prepare(
        self,
        session: AsyncSession,
        config: Settings,
        settings: dict[str, Any],
        credentials: dict[str, str],
        channel: ChannelAccount | None,
    ) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        settings, credentials = await telegram_service.prepare(
            session, config, settings, credentials, channel=channel
        )
        return settings, credentials, {}

    async def setup(self, config: Settings, channel: ChannelAccount) -> None:
        await telegram_service.connect(config, channel)

    async def teardown(self, config: Settings, channel: ChannelAccount) -> None:
        await telegram_service.disconnect(channel)


KINDS: dict[ChannelType, ChannelKind] = {
    ChannelType.webchat: WebchatKind(),
    ChannelType.telegram: TelegramKind(),
    ChannelType.whatsapp: WhatsAppKind(),
}
