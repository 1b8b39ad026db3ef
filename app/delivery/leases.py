"""Send leases: which channel accounts this process sends for.

Provider limits (Telegram ~30/s per bot, WhatsApp 80/s per number) are per channel
account, and each process counts its own sends. So exactly one process sends for a given
channel at a time: it holds a PostgreSQL advisory lock on a connection of its own. When that
process dies, its connection closes, the lock is released, and another process takes the
channel on its next claim. Dispatcher loops of one process share its leases."""

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import asyncpg

log = logging.getLogger(__name__)

# The advisory-lock namespace for send leases (the two-int form: namespace, channel id).
LEASE_NAMESPACE = 0x5E4D


class SendLeases:
    def __init__(self, dsn: str):
        self._dsn = dsn
        self._conn: asyncpg.Connection | None = None
        self._owned: set[int] = set()
        self._lock = asyncio.Lock()

    async def acquire(self, channel_ids: Iterable[int]) -> set[int]:
        """The subset of channel_ids this process may send for (taking free ones)."""
        wanted = set(channel_ids)
        async with self._lock:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(self._dsn)
                    self._owned = set()
                new = sorted(wanted - self._owned)
                if new:
                    rows = await self._conn.fetch(
                        "SELECT id, pg_try_advisory_lock($1, (id % 2147483647)::int) AS ok "
                        "FROM unnest($2::bigint[]) AS id",
                        LEASE_NAMESPACE,
                        new,
                    )
                    self._owned |= {r["id"] for r in rows if r["ok"]}
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.warning("send leases: lost the lease connection; retrying")
                await self._drop()
                return set()
            return self._owned & wanted

    async def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
        self._conn = None
        self._owned = set()

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
