"""Rate limiting with the `limits` library: in memory per process, or shared through Redis
when CHATCENTRE_REDIS_URL is set (so a fleet enforces one budget)."""

import time
from functools import lru_cache

from limits import RateLimitItem
from limits import parse as parse_limit
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.storage import storage_from_string

from app.core.errors import RateLimited


@lru_cache(maxsize=256)
def parse(limit: str) -> RateLimitItem:
    """Parsed once per distinct limit string: it is on every request's path."""
    return parse_limit(limit)


class RateLimiter:
    def __init__(self, redis_url: str | None = None):
        uri = f"async+{redis_url}" if redis_url else "async+memory://"
        storage = storage_from_string(uri)
        self._strategy = FixedWindowRateLimiter(storage)
        # Provider throughput (sends): a moving window, so no double burst at a boundary.
        self._moving = MovingWindowRateLimiter(storage)

    async def hit(self, limit: str, *keys: str) -> None:
        item = parse(limit)
        if await self._strategy.hit(item, *keys):
            return
        stats = await self._strategy.get_window_stats(item, *keys)
        retry_after = max(1, int(stats.reset_time - time.time()) + 1)
        raise RateLimited(
            f"Too many requests: limit is {limit}", headers={"Retry-After": str(retry_after)}
        )

    async def check(self, limit: str, code: str, message: str, *keys: str) -> None:
        """Raises 429 when `limit` is used up for `keys`, without taking a slot (moving
        window: the wait ends when the oldest hit ages out)."""
        item = parse(limit)
        if await self._moving.test(item, *keys):
            return
        stats = await self._moving.get_window_stats(item, *keys)
        retry_after = max(1, int(stats.reset_time - time.time()) + 1)
        raise RateLimited(message, code, headers={"Retry-After": str(retry_after)})

    async def record(self, limit: str, *keys: str) -> bool:
        """Takes a slot of a moving-window limit; False once it is used up."""
        return await self._moving.hit(parse(limit), *keys)

    async def reset(self, limit: str, *keys: str) -> None:
        await self._moving.clear(parse(limit), *keys)

    async def try_acquire(self, limits_and_keys: list[tuple[str, tuple[str, ...]]]) -> float:
        """Takes one slot of every limit, or none: returns 0, or the seconds to wait."""
        items = [(parse(limit), keys) for limit, keys in limits_and_keys]
        for item, keys in items:
            if not await self._moving.test(item, *keys):
                stats = await self._moving.get_window_stats(item, *keys)
                return max(0.01, stats.reset_time - time.time())
        for item, keys in items:
            await self._moving.hit(item, *keys)
        return 0.0
