"""All settings in one place; every field is read from CHATCENTRE_<NAME>."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHATCENTRE_", env_file=".env", extra="ignore")

    # Storage
    database_url: str | None = Field(
        default=None,
        description="postgresql+asyncpg://... ; unset = embedded PostgreSQL in data_dir",
    )
    data_dir: Path = Field(default=Path(".chatcentre"), description="Embedded DB and local state")
    db_pool_size: int = Field(default=10, description="SQLAlchemy pool size per process")

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
    access_token_ttl_seconds: int = Field(default=12 * 3600, description="Operator token life")
    visitor_token_ttl_seconds: int = Field(
        default=30 * 24 * 3600, description="Widget visitor token life"
    )

    # Limits
    max_body_bytes: int = Field(default=256 * 1024, description="Largest request body accepted")
    max_message_chars: int = Field(default=4096, description="Largest message text accepted")
    rate_limit_public: str = Field(default="120/minute", description="Per IP, public endpoints")
    rate_limit_widget_messages: str = Field(
        default="30/minute", description="Per visitor, widget message posts"
    )
    rate_limit_login: str = Field(default="10/minute", description="Per IP, login attempts")
    rate_limit_api: str = Field(default="600/minute", description="Per operator or API key")

    # Real time
    redis_url: str | None = Field(
        default=None, description="redis://... : rate limits shared by all nodes (else per process)"
    )
    bus_coalesce_ms: float = Field(
        default=2.0, description="Window in which published ids are merged into one NOTIFY"
    )

    # Workers
    run_workers: bool = Field(default=True, description="serve also runs the dispatcher")
    dispatcher_batch_size: int = Field(default=50, description="Rows claimed per batch")
    dispatcher_concurrency: int = Field(default=2, description="Dispatcher loops per process")
    dispatcher_idle_poll_seconds: float = Field(
        default=1.0, description="Poll interval when no wake-up arrives"
    )
    outbox_max_attempts: int = Field(default=8, description="Send attempts before failed")
    outbox_backoff_initial_seconds: float = Field(default=1.0, description="First retry delay")
    outbox_backoff_max_seconds: float = Field(default=300.0, description="Longest retry delay")


@lru_cache
def get_settings() -> Settings:
    return Settings()
