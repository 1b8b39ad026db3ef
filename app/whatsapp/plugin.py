"""WhatsApp (Cloud API) numbers as a channel plugin: the credentials Meta's dashboard gives,
the 24-hour customer-service window, approved templates (the only way to write outside it,
and to write first), and the webhook route."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.channels.plugin import (
    ChannelPlugin,
    ChannelSettings,
    OutgoingContent,
    Prepared,
    ReplyWindow,
)
from app.channels.schemas import TemplateSend, TemplateSpec
from app.config import Settings
from app.core.errors import Conflict, Invalid
from app.whatsapp import service
from app.whatsapp.api import router
from connectors.whatsapp.connector import WhatsAppConnector

# Free-form messages only within 24 hours of the client's last message; after that only an
# approved template may open the conversation.
WINDOW = timedelta(hours=24)

REQUIRED_CREDENTIALS = ("phone_number_id", "access_token", "app_secret", "verify_token")

# Template body parameters by default, per chain step (a channel may list its own).
_TEMPLATE_PARAMETERS: dict[str, list[str]] = {
    "accepted": ["first_name", "order", "date"],
    "delayed": ["first_name", "order", "delay_days", "reason"],
    "courier_scheduled": ["first_name", "order", "window"],
}
_DEFAULT_PARAMETERS = ["first_name", "order", "tracking_url"]


class WhatsAppSettings(ChannelSettings):
    graph_api_base: str | None = None
    rate_per_account: str | None = None  # like "80/second"
    templates: list[TemplateSpec] | None = None

    @field_validator("graph_api_base")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value


def _digits(phone: str) -> str:
    return "".join(c for c in phone if c.isdigit())


class WhatsAppPlugin(ChannelPlugin):
    type = WhatsAppConnector.channel_type
    label = "WhatsApp"
    icon = "/console/icon-whatsapp.svg"
    capabilities = WhatsAppConnector.capabilities
    settings_model = WhatsAppSettings
    credential_names = REQUIRED_CREDENTIALS

    def configure(self, settings: Settings) -> None:
        service.configure_connector(settings)

    def routers(self) -> Sequence[APIRouter]:
        return (router,)

    def wider_body_limits(self, settings: Settings) -> Mapping[str, int]:
        return {"/webhooks/whatsapp/": settings.whatsapp_max_webhook_bytes}

    # ------------------------------------------------------------ channel lifecycle

    def setup_changed(
        self, channel: ChannelAccount, settings: dict[str, Any], credentials: dict[str, Any]
    ) -> bool:
        return bool(credentials != channel.credentials)

    async def prepare(
        self,
        session: AsyncSession,
        config: Settings,
        settings: dict[str, Any],
        credentials: dict[str, str],
        channel: ChannelAccount | None,
    ) -> Prepared:
        missing = [k for k in self.credential_names if not str(credentials.get(k) or "").strip()]
        if missing:
            raise Invalid(
                "A WhatsApp channel needs credentials: " + ", ".join(missing),
                "missing_credentials",
            )
        if not str(credentials["phone_number_id"]).isdigit():
            raise Invalid(
                "phone_number_id is the numeric id from Meta's dashboard", "invalid_settings"
            )
        return Prepared(settings, {k: str(v).strip() for k, v in credentials.items()})

    # ------------------------------------------------------------ conversation rules

    def inbound_at(self, sent_at: datetime | None, received_at: datetime) -> datetime:
        """The window runs from the client's message (Meta's timestamp), not from when it
        reached us: a message Meta redelivers 30 hours late does not reopen it. Never later
        than its receipt (a skewed clock cannot stretch the window)."""
        return received_at if sent_at is None else min(sent_at, received_at)

    def reply_window(
        self, last_inbound_at: datetime | None, now: datetime | None = None
    ) -> ReplyWindow | None:
        if last_inbound_at is None:
            return None
        expires_at = last_inbound_at + WINDOW
        return ReplyWindow(open=(now or datetime.now(UTC)) < expires_at, expires_at=expires_at)

    def prepare_outgoing(
        self,
        channel: ChannelAccount,
        last_inbound_at: datetime | None,
        text: str | None,
        template: TemplateSend | None,
    ) -> OutgoingContent:
        """Free text is refused up front outside the 24-hour window (Meta would fail it
        with 131047 anyway); a template must be registered on the channel."""
        if template is not None:
            return _template_content(channel, template, text)
        window = self.reply_window(last_inbound_at)
        if window is None or not window.open:
            raise Conflict(
                "The client last wrote more than 24 hours ago: WhatsApp only allows an "
                "approved template now (send one with `template`)",
                "whatsapp_window_closed",
            )
        return OutgoingContent(text or "")

    def identity_keys(self, lookup: Mapping[str, str | None]) -> list[str]:
        # A wa_id is the phone number in digits.
        wa_id, phone = lookup.get("wa_id"), lookup.get("phone")
        return [k for k in (wa_id, _digits(phone) if phone else None) if k]

    def initiating_identity(self, lookup: Mapping[str, str | None]) -> str | None:
        return lookup.get("wa_id") or None

    def template_for_step(
        self, channel: ChannelAccount, step: str, language: str, variables: dict[str, str]
    ) -> TemplateSend | None:
        """The approved template mapped to this step (settings.chain_templates), if
        registered: {"accepted": "order_accepted"} or {"accepted": {"name", "language",
        "parameters"}}."""
        mapped = (channel.settings.get("chain_templates") or {}).get(step)
        if not mapped:
            return None
        spec_of: dict[str, Any] = mapped if isinstance(mapped, dict) else {"name": mapped}
        candidates = [t for t in service.templates_of(channel) if t.name == spec_of["name"]]
        wanted = spec_of.get("language")
        spec = next(
            (
                t
                for t in candidates
                if (t.language == wanted if wanted else t.language.split("_")[0] == language)
            ),
            None if wanted else (candidates[0] if candidates else None),
        )
        if spec is None:
            return None
        names = list(
            spec_of.get("parameters") or _TEMPLATE_PARAMETERS.get(step, _DEFAULT_PARAMETERS)
        )
        values = [variables.get(n) or "-" for n in names][: spec.parameters]
        values += ["-"] * (spec.parameters - len(values))
        return TemplateSend(name=spec.name, language=spec.language, parameters=values)

    # ------------------------------------------------------------ the CLI

    def cli_values(self, flags: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        return {}, {k: str(flags[k]) for k in self.credential_names if flags.get(k)}

    def describe(self, channel: ChannelAccount, public_url: str) -> list[str]:
        public = public_url.rstrip("/") or "https://<public host>"
        return [f"webhook URL (Meta dashboard): {public}/webhooks/whatsapp/{channel.id}"]


def _template_content(
    channel: ChannelAccount, template: TemplateSend, text: str | None
) -> OutgoingContent:
    spec = next(
        (
            t
            for t in service.templates_of(channel)
            if t.name == template.name and t.language == template.language
        ),
        None,
    )
    if spec is None:
        raise Invalid(
            f"Template {template.name!r} ({template.language}) is not registered on this "
            "channel: add it with PUT /api/v1/channels/{id}/templates",
            "unknown_template",
        )
    if len(template.parameters) != spec.parameters:
        raise Invalid(
            f"Template {spec.name!r} takes {spec.parameters} parameters, "
            f"{len(template.parameters)} given",
            "template_parameters",
        )
    shown = f"Template {spec.name} ({spec.language})"
    if template.parameters:
        shown += ": " + ", ".join(template.parameters)
    return OutgoingContent(text or shown, "template", {"template": template.model_dump()})
