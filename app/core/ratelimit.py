"""Rate limiting with the `limits` library: in memory per process, or shared through Redis
when CHATCENTRE_REDIS_URL is set (so a fleet enforces one budget)."""

import time

from limits import parse
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from app.core.errors import RateLimited


class RateLimiter:
    def __init__(self, redis_url: str | None = None):
        uri = f"async+{redis_url}" if redis_url else "async+memory://"
        self._strategy = FixedWindowRateLimiter(storage_from_string(uri))

    async def hit(self, limit: str, *keys: str) -> None:
        item = parse(limit)
        if await self._strategy.hit(item, *keys):
            return
        stats = await self._strategy.get_window_stats(item, *keys)
        retry_after = max(1, int(stats.reset_time - time.time()) + 1)
        raise RateLimited(
            f"Too many requests: limit is {limit}", headers={"Retry-After": str(retry_after)}
        )
