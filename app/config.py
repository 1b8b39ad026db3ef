"""All settings in one place; every field is read from CHATCENTRE_<NAME>."""

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHATCENTRE_", env_file=".env", extra="ignore")

    # Storage
    database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg://... ; unset = embedded PostgreSQL in data_dir",
    )
    data_dir: Path = Field(default=Path(".chatcentre"), description="Embedded DB and local state")
    db_pool_size: int = Field(
        default=10,
        description=(
            "Database connections a process opens at start; under load it opens up to twice "
            "as many and keeps them"
        ),
    )

    # HTTP
    host: str = Field(default="127.0.0.1", description="Bind address of `serve`")
    port: int = Field(default=8000, description="Port of `serve`")
    public_url: str = Field(default="", description="Public base URL (for provider webhooks)")
    log_level: str = Field(default="info", description="debug, info, warning, error")

    # Security
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs access and visitor tokens; unset = generated once into data_dir",
    )
    credentials_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) encrypting provider credentials at rest (comma separated: "
        "the first encrypts, all decrypt); unset = derived from the secret key",
    )
    access_token_ttl_seconds: int = Field(default=12 * 3600, description="Operator token life")
    visitor_token_ttl_seconds: int = Field(
        default=30 * 24 * 3600, description="Widget visitor token life"
    )
    ws_ticket_ttl_seconds: int = Field(
        default=30,
        ge=1,
        le=60,
        description="Life of a single-use WebSocket ticket (POST .../ws-ticket); sockets "
        "connect with ?ticket= so no reusable token travels in a URL",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma separated IPs or CIDRs of reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto are believed (the client IP for rate limits and the audit "
        "log); empty = none, the peer address is the client",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token that GET /metrics requires (Authorization: Bearer ...); "
        "unset = /metrics answers 404",
    )
    docs_enabled: bool = Field(
        default=False,
        description="Serve the API documentation (/docs, /redoc, /openapi.json); off = 404",
    )

    # Limits
    max_body_bytes: int = Field(default=256 * 1024, description="Largest request body accepted")
    whatsapp_max_webhook_bytes: int = Field(
        default=3 * 1024 * 1024,
        description="Largest WhatsApp webhook body accepted (Meta posts up to 3 MB)",
    )
    max_message_chars: int = Field(
        default=20000,
        description="Largest message text accepted (a reply longer than the provider takes, "
        "e.g. Telegram's 4096, is sent as several messages)",
    )
    rate_limit_public: str = Field(default="120/minute", description="Per IP, public endpoints")
    rate_limit_widget_messages: str = Field(
        default="30/minute", description="Per visitor, widget message posts"
    )
    rate_limit_login: str = Field(default="10/minute", description="Per IP, login attempts")
    rate_limit_api: str = Field(default="600/minute", description="Per operator or API key")
    login_lockout: str = Field(
        default="5/15minutes",
        description="Failed logins per account before it is locked (429 account_locked) "
        "until the oldest failure is older than the window",
    )
    rate_limit_widget_sessions: str = Field(
        default="20/minute", description="Per IP, widget session creation"
    )
    rate_limit_widget_messages_ip: str = Field(
        default="120/minute", description="Per IP, widget message posts (all visitors)"
    )
    # Overload shedding (app/core/shedding.py), per process; 0 switches a signal off
    shed_max_in_flight: int = Field(
        default=64,
        description="HTTP requests in progress per process above which new ones get 503 "
        "with Retry-After at once (0 = no limit)",
    )
    shed_max_pool_wait_ms: int = Field(
        default=250,
        description="Database pool wait (the oldest waiting checkout, or the longest in the "
        "last second) above which new requests get 503 with Retry-After (0 = never)",
    )
    shed_retry_after_seconds: int = Field(
        default=1, description="Retry-After of a shed request's 503"
    )
    # Attachments (operator and integration uploads; inbound media stays with the provider)
    attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        description="Largest file `POST /api/v1/attachments` accepts (else 413)",
    )
    attachment_content_types: str = Field(
        default="image/jpeg,image/png,image/gif,image/webp,application/pdf,text/plain,"
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document,"
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,"
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        description="Comma-separated types an upload may be, judged from its bytes, not "
        "from what the client declares (else 415)",
    )
    widget_attachment_max_bytes: int = Field(
        default=5 * 1024 * 1024,
        description="Largest file a web-chat visitor may upload (public endpoint; else 413)",
    )
    rate_limit_widget_uploads: str = Field(
        default="10/minute", description="Per visitor, widget file uploads"
    )
    rate_limit_widget_uploads_ip: str = Field(
        default="30/minute", description="Per IP, widget file uploads (all visitors)"
    )
    attachment_dir: Path | None = Field(
        default=None, description="Where uploaded files are kept; unset = data_dir/attachments"
    )
    attachments_store: Literal["local", "s3"] = Field(
        default="local",
        description="Where files' bytes are kept: the data directory, or an S3-compatible "
        "store that every node shares",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="The S3-compatible store's URL; unset = AWS S3 itself"
    )
    s3_bucket: str | None = Field(default=None, description="The bucket (it must exist)")
    s3_region: str = Field(default="us-east-1")
    s3_access_key_id: str | None = Field(default=None)
    s3_secret_access_key: SecretStr | None = Field(default=None)
    s3_prefix: str = Field(default="attachments/", description="Keys start with this")
    attachment_link_ttl_seconds: int = Field(
        default=24 * 3600,
        description="Life of the signed download links web-chat visitors get for files",
    )
    ws_compression: bool = Field(
        default=False,
        description="permessage-deflate on WebSockets: events are small, and compressing each "
        "frame per socket costs more CPU than the bandwidth it saves",
    )
    ws_max_message_bytes: int = Field(
        default=4096, description="Largest WebSocket frame a client may send (else close 1009)"
    )
    ws_rate_limit: str = Field(
        default="20/second", description="Frames per WebSocket client (else close 1008)"
    )

    # Real time
    redis_url: str | None = Field(
        default=None, description="redis://... : rate limits shared by all nodes (else per process)"
    )
    bus_backend: Literal["postgres", "redis"] = Field(
        default="postgres",
        description="Event bus: PostgreSQL LISTEN/NOTIFY, or Redis pub/sub (needs REDIS_URL)",
    )
    bus_coalesce_ms: float = Field(
        default=2.0, description="Window in which published ids are merged into one NOTIFY"
    )
    fanout_interval_ms: float = Field(
        default=10.0,
        description="Least time between two WebSocket fan-outs of a process (events that "
        "arrive meanwhile go out together); the wait also grows to the last fan-out's cost",
    )

    default_timezone: str = Field(
        default="UTC",
        description="IANA zone for local days (cadence, reports) of teams that set none, and "
        "of managers in no such team (e.g. Europe/Moscow)",
    )

    # Workers
    run_workers: bool = Field(default=True, description="serve also runs the dispatcher")
    dispatcher_sends_in_flight: int = Field(
        default=8,
        description="Concurrent sends per dispatcher loop (loops x this stays under the DB pool; "
        "also the most a SIGKILL can resend)",
    )
    dispatcher_lease_seconds: float = Field(
        default=120.0,
        description="How long a claimed outbox row is reserved (longer than any send takes)",
    )
    dispatcher_batch_size: int = Field(default=50, description="Rows claimed per batch")
    dispatcher_concurrency: int = Field(default=2, description="Dispatcher loops per process")
    dispatcher_idle_poll_seconds: float = Field(
        default=1.0, description="Poll interval when no wake-up arrives"
    )
    routing_tick_seconds: float = Field(
        default=1.0, description="How often response targets and queue alerts are checked"
    )
    automation_tick_seconds: float = Field(
        default=1.0, description="How often automation rules read new events and timers"
    )
    automation_max_actions_per_minute: int = Field(
        default=20, ge=1, description="Automation actions a conversation takes a minute at most"
    )
    outbox_max_attempts: int = Field(default=8, description="Send attempts before failed")
    outbox_backoff_initial_seconds: float = Field(default=1.0, description="First retry delay")
    outbox_backoff_max_seconds: float = Field(default=300.0, description="Longest retry delay")

    # Outgoing webhooks (app/webhooks)
    webhook_allowed_networks: str = Field(
        default="",
        description="Comma-separated networks webhooks may reach although private or "
        "loopback (e.g. 10.0.0.0/8,127.0.0.1/32); empty: only public addresses",
    )
    webhook_timeout_seconds: float = Field(default=10.0, description="One delivery attempt")
    webhook_poll_seconds: float = Field(default=1.0, description="How often senders look")
    webhook_backoff_initial_seconds: float = Field(default=5.0, description="First retry delay")
    webhook_backoff_max_seconds: float = Field(default=3600.0, description="Longest delay")
    webhook_retry_window_seconds: float = Field(
        default=3 * 86400.0, description="Retries stop (failed) this long after the event"
    )
    webhook_disable_after_seconds: float = Field(
        default=86400.0, description="An endpoint failing this long is disabled"
    )

    # WhatsApp Cloud API
    whatsapp_graph_api_base: str = Field(
        default="https://graph.facebook.com/v23.0",
        description="Graph API base with version; a channel's settings.graph_api_base wins",
    )
    whatsapp_rate_per_account: str = Field(
        default="80/second",
        description="Sends per number (Meta's default throughput); settings.rate_per_account wins",
    )
    whatsapp_timeout_seconds: float = Field(
        default=15.0, description="Graph API request timeout (a timeout is retried)"
    )

    # Telegram Bot API
    telegram_api_server: str = Field(
        default="https://api.telegram.org",
        description="Bot API base URL for new bots (a local Bot API server); "
        "a channel's settings.api_server wins",
    )
    telegram_send_timeout_seconds: float = Field(
        default=30.0, description="Bot API request timeout of a send (a timeout is retried)"
    )
    telegram_poll_timeout_seconds: int = Field(
        default=25, description="Long-poll wait of one getUpdates call (polling mode)"
    )
    telegram_poll_lock_retry_seconds: float = Field(
        default=5.0, description="How often a standby process tries to take over a bot's polling"
    )
    telegram_poll_scan_seconds: float = Field(
        default=10.0, description="How often workers look for bots newly set to polling mode"
    )
    telegram_poll_error_backoff_seconds: float = Field(
        default=1.0, description="First wait after a failed getUpdates (doubles, up to 30 s)"
    )

    # Email (IMAP + SMTP mailboxes)
    email_idle_seconds: float = Field(
        default=300.0,
        description="Longest IMAP IDLE (or poll wait) before a reader checks the mailbox anyway",
    )
    email_lock_retry_seconds: float = Field(
        default=5.0, description="How often a standby process tries to take over a mailbox"
    )
    email_scan_seconds: float = Field(
        default=10.0, description="How often workers look for mailboxes added or changed"
    )
    email_error_backoff_seconds: float = Field(
        default=2.0, description="First wait after a failed mailbox read (doubles, up to 5 min)"
    )
    email_batch_size: int = Field(default=50, ge=1, description="Mails stored per transaction")
    # VK community messages
    vk_api_base: str = Field(
        default="https://api.vk.com/method",
        description="VK API method endpoint (a local stand-in in tests); a channel's "
        "settings.api_base wins",
    )
    vk_timeout_seconds: float = Field(
        default=15.0, description="VK API request timeout (a timeout of a send is retried)"
    )
    vk_media_hosts: str = Field(
        default="",
        description="Comma-separated hosts inbound VK files may be downloaded from; "
        "empty = VK's own (vk.com, userapi.com, ...)",
    )
    vk_poll_wait_seconds: int = Field(
        default=25, ge=1, le=90, description="Wait of one Bots Long Poll request (longpoll mode)"
    )
    vk_poll_lock_retry_seconds: float = Field(
        default=5.0, description="How often a standby process tries to take over a community"
    )
    vk_poll_scan_seconds: float = Field(
        default=10.0, description="How often workers look for communities newly set to longpoll"
    )
    vk_poll_error_backoff_seconds: float = Field(
        default=1.0, description="First wait after a failed Long Poll request (doubles, to 30 s)"
    )

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
