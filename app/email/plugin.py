"""Mailboxes (IMAP in, SMTP out) as a channel plugin: settings checked on create and PATCH,
both servers logged in to before anything is stored, one reader per mailbox, replies that
thread in the client's mail program, chain notices with a subject."""

import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.channels.plugin import ChannelPlugin, ChannelSettings, Prepared, Worker
from app.config import Settings
from app.core.context import AppContext
from app.email import service
from app.email.reader import email_readers
from connectors import registry as connectors
from connectors.email.connector import EmailConnector

Security = Literal["tls", "starttls", "none", "plain"]
Port = Field(default=None, ge=1, le=65535)

# What, changed, needs the servers asked again (and maybe a new reading position).
_SERVER_SETTINGS = (
    "imap_host",
    "imap_port",
    "imap_security",
    "imap_folder",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "username",
    "imap_username",
    "smtp_username",
    "tls_ca_file",
    "tls_verify",
)


class EmailSettings(ChannelSettings):
    address: str
    from_name: str | None = Field(default=None, max_length=200)
    imap_host: str = Field(min_length=1, max_length=255)
    imap_port: int | None = Port
    imap_security: Security = "tls"
    imap_folder: str | None = Field(default=None, max_length=255)
    smtp_host: str = Field(min_length=1, max_length=255)
    smtp_port: int | None = Port
    smtp_security: Security = "starttls"
    username: str | None = Field(default=None, max_length=320)
    imap_username: str | None = Field(default=None, max_length=320)
    smtp_username: str | None = Field(default=None, max_length=320)
    mark_seen: bool = False
    delete_after_read: bool = False
    move_to: str | None = Field(default=None, max_length=255)
    import_existing: bool = False
    idle: bool = True
    poll_interval: float = Field(default=60.0, ge=5, le=3600)
    max_attachment_bytes: int | None = Field(default=None, ge=1, le=100 * 1024 * 1024)
    max_message_bytes: int | None = Field(default=None, ge=1024)
    timeout: float | None = Field(default=None, ge=1, le=300)
    tls_ca_file: str | None = None
    tls_verify: bool | None = None
    default_subject: str | None = Field(default=None, max_length=300)
    # Chain notices' subjects by step ("*": any), with the chain's variables ({order}).
    chain_subjects: dict[str, str] | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip().lower()
        local, at, domain = value.rpartition("@")
        if not at or not local or "." not in domain or any(c in value for c in " <>,;\"'"):
            raise ValueError("must be an email address")
        return value

    @model_validator(mode="after")
    def _usernames(self) -> "EmailSettings":
        if not self.username and not (self.imap_username and self.smtp_username):
            raise ValueError("username is required (or imap_username and smtp_username)")
        if self.delete_after_read and self.move_to:
            raise ValueError("delete_after_read and move_to exclude each other")
        return self


class EmailPlugin(ChannelPlugin):
    type = EmailConnector.channel_type
    label = "Email"
    icon = "/console/icon-email.svg"
    capabilities = EmailConnector.capabilities
    settings_model = EmailSettings
    credential_names = ("password",)
    derived_settings = service.DERIVED
    cli_flags: ClassVar[Mapping[str, str]] = {
        "imap-host": "email: IMAP server",
        "imap-port": "email: IMAP port (default by security)",
        "imap-security": "email: tls, starttls or none",
        "smtp-host": "email: SMTP server",
        "smtp-port": "email: SMTP port (default by security)",
        "smtp-security": "email: tls, starttls or none",
        "username": "email: login for both servers",
        "smtp-username": "email: the SMTP login, where it differs",
        "password": "email: password (or CHATCENTRE_EMAIL_PASSWORD)",
        "address": "email: the mailbox address (From)",
        "from-name": "email: the company's name in From",
    }

    @property
    def default_name(self) -> str:
        return "Mailbox"

    def configure(self, settings: Settings) -> None:
        connectors.register(EmailConnector())

    def workers(self, ctx: AppContext) -> Sequence[tuple[str, Worker]]:
        return (("email-readers", email_readers(ctx)),)

    def setup_changed(
        self, channel: ChannelAccount, settings: dict[str, Any], credentials: dict[str, Any]
    ) -> bool:
        before = channel.settings
        return credentials != channel.credentials or any(
            settings.get(k) != before.get(k) for k in _SERVER_SETTINGS
        )

    async def prepare(
        self,
        session: AsyncSession,
        config: Settings,
        settings: dict[str, Any],
        credentials: dict[str, str],
        channel: ChannelAccount | None,
    ) -> Prepared:
        stored, creds = await service.prepare(session, settings, credentials, channel)
        return Prepared(stored, creds)

    async def outgoing_meta(
        self,
        session: AsyncSession,
        channel: ChannelAccount,
        conversation_id: int,
        operator_id: int | None,
        meta: dict[str, Any],
    ) -> dict[str, Any]:
        return await service.outgoing_meta(session, channel, conversation_id, operator_id, meta)

    def chain_meta(
        self, channel: ChannelAccount, step: str, language: str, variables: dict[str, str]
    ) -> dict[str, Any]:
        return {"subject": service.chain_subject(channel.settings, step, language, variables)}

    def identity_keys(self, lookup: Mapping[str, str | None]) -> list[str]:
        email = (lookup.get("email") or "").strip().lower()
        return [email] if "@" in email else []

    def initiating_identity(self, lookup: Mapping[str, str | None]) -> str | None:
        keys = self.identity_keys(lookup)
        return keys[0] if keys else None

    def cli_values(self, flags: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        settings: dict[str, Any] = {}
        for name in self.cli_flags:
            key = name.replace("-", "_")
            if key != "password" and flags.get(key) is not None:
                settings[key] = flags[key]  # the settings model checks and converts
        # From the environment rather than the command line, where `ps` shows it.
        password = flags.get("password") or os.environ.get("CHATCENTRE_EMAIL_PASSWORD")
        return settings, ({"password": str(password)} if password else {})

    def describe(self, channel: ChannelAccount, public_url: str) -> list[str]:
        s = channel.settings
        return [
            f"mailbox {s.get('address')}: IMAP {s.get('imap_host')}, SMTP {s.get('smtp_host')}",
            "mail is read by `chatcentre serve` or `chatcentre worker` (one reader per mailbox)",
        ]
