"""Everything a process shares: settings, engine, sessions, bus, limiter. Built in the
lifespan (or by the CLI and the tests) and reached by the API through request.app.state."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings
from app.core import crypto
from app.core.bus import EventBus, PostgresBus, RedisBus
from app.core.ratelimit import RateLimiter
from app.core.secrets import signing_key
from app.core.session import make_session_class
from app.core.shedding import MeasuredPool, PoolPressure
from app.db.engine import asyncpg_dsn, resolve_database_url

T = TypeVar("T")


@dataclass
class AppContext:
    settings: Settings
    database_url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    limiter: RateLimiter
    signing_key: str
    pool_pressure: PoolPressure = field(default_factory=PoolPressure)
    extras: dict[str, Any] = field(default_factory=dict)

    def shared(self, kind: type[T], make: Callable[[], T]) -> T:
        """The one `kind` object of this process (its app context), made on first use:
        send leases, provider holds, caches that every dispatcher or request shares."""
        found = self.extras.get(kind.__name__)
        if found is None:
            found = self.extras[kind.__name__] = make()
        assert isinstance(found, kind)
        return found

    async def warm_up(self) -> None:
        """Opens the pool's connections before traffic comes: opening one costs tens of
        milliseconds, and doing it inside the first burst of requests shows up as seconds of
        tail latency. Best effort: a database that is away now is handled per request."""
        connections = []
        try:
            for _ in range(self.settings.db_pool_size):
                conn = await self.engine.connect()
                connections.append(conn)
                await conn.execute(text("SELECT 1"))
        except Exception:  # noqa: S110 - the first request reports a real outage
            pass
        finally:
            for conn in connections:
                await conn.close()

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
        # Up to twice the warmed-up connections, and each one opened stays open: an overflow
        # connection (max_overflow) is closed when given back, so every burst opened new
        # PostgreSQL backends, which then recompiled and re-planned the plpgsql functions
        # they called (about 5 a second at 250 msg/s; issue 22).
        pool_size=2 * settings.db_pool_size,
        max_overflow=0,
        # No ping per checkout (a round trip per request): a connection that died with
        # the server fails its first statement, SQLAlchemy then drops the whole pool and
        # the request gets a 503 that providers retry.
        pool_pre_ping=False,
        poolclass=MeasuredPool,  # times checkouts for overload shedding
    )
    pool_pressure = PoolPressure()
    assert isinstance(engine.pool, MeasuredPool)
    engine.pool.pressure = pool_pressure
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
        pool_pressure=pool_pressure,
    )
