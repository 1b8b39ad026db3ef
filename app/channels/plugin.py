"""The channel plugin contract: everything that differs per channel type, in one class per
type. The app asks the plugin of a channel (app/channels/registry.py) and never branches on
its type: settings checks (the same on create and on PATCH), `prepare` / `setup` /
`teardown` with the provider, the inbound routes and workers, the reply-window rule, what
an outgoing message may be, identity keys, chain templates, and the CLI's words.

A channel is a folder under connectors/ (provider I/O, no app imports), an app-side package
with its plugin module, and one registration line in app/plugins.py. The defaults here are
those of a channel without rules: any settings, no provider side, no window, no templates."""

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.channels.schemas import TemplateSend
from app.config import Settings
from app.core.bus import Subscriber
from app.core.context import AppContext
from app.core.errors import Invalid
from connectors import registry as connectors
from connectors.base import Capabilities, Connector


class ChannelSettings(BaseModel):
    """The settings every channel takes as they are (csat_enabled, rate_per_chat, ...);
    a plugin's model adds the keys it checks."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True, slots=True)
class Prepared:
    """What to store for a channel, and the credentials generated for it (shown once)."""

    settings: dict[str, Any]
    credentials: dict[str, str]
    generated: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReplyWindow:
    open: bool
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OutgoingContent:
    """What a reply or an integration send puts in the outbox."""

    text: str
    kind: str = "text"
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a send to a client goes to, as their identity on the channel stands."""

    external_id: str
    reachable: bool  # False: a send failed for good (blocked), or the person said no
    unreachable_reason: str | None = None


class Worker(Protocol):
    """A background task of a process (a poller): runs until stopped."""

    async def run_forever(self) -> None: ...

    def stop(self) -> None: ...


BusListener = Subscriber


class ChannelPlugin:
    type: ClassVar[str]  # stored in channel_accounts.type (at most 24 characters)
    label: ClassVar[str]  # "WhatsApp": what people read
    contact_noun: ClassVar[str] = "Client"  # what the console calls a person on it
    icon: ClassVar[str]  # URL of its icon
    capabilities: ClassVar[Capabilities]  # the connector's declaration
    settings_model: ClassVar[builtins.type[BaseModel]] = ChannelSettings
    credential_names: ClassVar[tuple[str, ...]] = ()  # what an admin gives (write-only)
    # Settings only chatcentre writes (what the provider said, polling state): never a PATCH.
    derived_settings: ClassVar[tuple[str, ...]] = ()
    # Options of `chatcentre channel add` of its own (--imap-host ...): name -> help.
    cli_flags: ClassVar[Mapping[str, str]] = {}

    @property
    def default_name(self) -> str:
        """A new channel's name when none is given (the CLI)."""
        return self.label

    # ------------------------------------------------------------ process wiring

    def configure(self, settings: Settings) -> None:
        """Install the connector with this deployment's settings (idempotent)."""

    @property
    def connector(self) -> Connector:
        return connectors.get_connector(self.type)

    def routers(self) -> Sequence[APIRouter]:
        """Its inbound routes (webhooks, the widget API)."""
        return ()

    def install(self, app: FastAPI, settings: Settings) -> None:
        """Middleware of its own, added while the app is built."""

    def wider_body_limits(self, settings: Settings) -> Mapping[str, int]:
        """Path prefixes whose bodies may exceed CHATCENTRE_MAX_BODY_BYTES (webhook batches)."""
        return {}

    def bus_listeners(self, ctx: AppContext) -> Sequence[BusListener]:
        """Subscribers of every process's bus, before the real-time hub's."""
        return ()

    def workers(self, ctx: AppContext) -> Sequence[tuple[str, Worker]]:
        """Named background tasks for processes that run workers (pollers)."""
        return ()

    # ------------------------------------------------------------ channel lifecycle

    def validate(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The settings to store, checked by the settings model (create and PATCH)."""
        try:
            model = self.settings_model.model_validate(settings)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise Invalid(f"settings.{where}: {err['msg']}", "invalid_settings") from None
        return model.model_dump(exclude_none=True)

    def setup_changed(
        self, channel: ChannelAccount, settings: dict[str, Any], credentials: dict[str, Any]
    ) -> bool:
        """Whether a PATCH to these settings/credentials needs prepare + setup again."""
        return False

    async def prepare(
        self,
        session: AsyncSession,
        config: Settings,
        settings: dict[str, Any],
        credentials: dict[str, str],
        channel: ChannelAccount | None,
    ) -> Prepared:
        """Check the credentials (with the provider, if need be) before anything is
        stored. `channel`: the channel being changed (None on create)."""
        return Prepared(settings, credentials)

    async def setup(self, config: Settings, channel: ChannelAccount) -> None:
        """The channel (with its id) is about to be active: connect it at the provider."""

    async def teardown(self, config: Settings, channel: ChannelAccount) -> None:
        """The channel stops (deactivated, deleted): disconnect it at the provider."""

    # ------------------------------------------------------------ conversation rules

    def inbound_at(self, sent_at: datetime | None, received_at: datetime) -> datetime:
        """When the client wrote, as last_inbound_at records it: by default the receipt."""
        return received_at

    def reply_window(
        self, last_inbound_at: datetime | None, now: datetime | None = None
    ) -> ReplyWindow | None:
        """The window for free text after the client's last message; None: no window."""
        return None

    def prepare_outgoing(
        self,
        channel: ChannelAccount,
        last_inbound_at: datetime | None,
        text: str | None,
        template: TemplateSend | None,
    ) -> OutgoingContent:
        """What a send to a client puts in the outbox, or a refusal the provider would
        give anyway."""
        if template is not None:
            raise Invalid(f"{self.label} channels take no templates", "templates_not_supported")
        return OutgoingContent(text or "")

    async def outgoing_meta(
        self,
        session: AsyncSession,
        channel: ChannelAccount,
        conversation_id: int,
        operator_id: int | None,
        meta: dict[str, Any],
    ) -> dict[str, Any]:
        """The meta an outgoing message is queued with, given the conversation it goes to
        (a mail's subject, the ids it answers, the operator's name): by default as given."""
        return meta

    def chain_meta(
        self, channel: ChannelAccount, step: str, language: str, variables: dict[str, str]
    ) -> dict[str, Any]:
        """What a chain step's message carries besides its text (a mail's subject)."""
        return {}

    def check_recipient(self, channel: ChannelAccount, recipient: Recipient) -> None:
        """Refuse (Conflict) a reply or an integration send the provider would refuse
        because of who it goes to, before anything is queued. By default anyone may be
        written to: a send that fails marks the identity unreachable for chain steps."""

    def identity_keys(self, lookup: Mapping[str, str | None]) -> list[str]:
        """The external ids (ContactIdentity.external_id on a channel of this type) that a
        shop's client reference names (app/chains/schemas.py ClientRef), best first."""
        return []

    def initiating_identity(self, lookup: Mapping[str, str | None]) -> str | None:
        """The external id to write first to someone who never did (capabilities.initiates)."""
        return None

    def template_for_step(
        self, channel: ChannelAccount, step: str, language: str, variables: dict[str, str]
    ) -> TemplateSend | None:
        """The approved template that carries a chain step outside the reply window."""
        return None

    # ------------------------------------------------------------ the CLI

    def cli_values(self, flags: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """(settings, credentials) from `chatcentre channel add`'s flags."""
        return {}, {}

    def describe(self, channel: ChannelAccount, public_url: str) -> list[str]:
        """What `chatcentre channel add` prints about a new channel."""
        return []
