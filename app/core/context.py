"""Everything a process shares: settings, engine, sessions, bus, limiter. Built in the
lifespan (or by the CLI and the tests) and reached by the API through request.app.state."""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings
from app.core import crypto
from app.core.ratelimit import RateLimiter
from app.core.secrets import signing_key
from app.db.engine import asyncpg_dsn, resolve_database_url
from app.realtime.bus import EventBus, PostgresBus, RedisBus
from app.realtime.events import make_session_class


@dataclass
class AppContext:
    settings: Settings
    database_url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    limiter: RateLimiter
    signing_key: str
    extras: dict[str, Any] = field(default_factory=dict)

    async def close(self) -> None:
        await self.bus.stop()
        for extra in self.extras.values():  # e.g. the dispatchers' send leases
            close = getattr(extra, "close", None)
            if close is not None:
                await close()
        await self.engine.dispose()


def build_context(settings: Settings, database_url: str | None = None) -> AppContext:
    url = database_url or resolve_database_url(settings)
    bus: EventBus
    if settings.bus_backend == "redis":
        if not settings.redis_url:
            raise ValueError("CHATCENTRE_BUS_BACKEND=redis needs CHATCENTRE_REDIS_URL")
        bus = RedisBus(settings.redis_url, coalesce_ms=settings.bus_coalesce_ms)
    else:
        bus = PostgresBus(asyncpg_dsn(url), coalesce_ms=settings.bus_coalesce_ms)
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
    )
    sessions = async_sessionmaker(
        engine, expire_on_commit=False, sync_session_class=make_session_class(bus.publish)
    )
    key = signing_key(settings)
    crypto.configure(
        settings.credentials_key.get_secret_value() if settings.credentials_key else None, key
    )
    return AppContext(
        settings=settings,
        database_url=url,
        engine=engine,
        sessions=sessions,
        bus=bus,
        limiter=RateLimiter(settings.redis_url),
        signing_key=key,
    )
