"""The overload scenario of bench.ingest (`--scenario overload`): twice the found capacity
for 10 s, then half of it for 10 s, open-loop, clients giving up after 10 s.

Reported: the share of requests answered 503 and 429, p99 of all answers and of the
accepted ones, time-outs (no answer within 10 s: must be 0), the seconds after the overload
until a one-second window of requests has p99 back under the ingest's target again, and the
exactly-once check: messages answered 2xx but not stored (lost) and messages stored twice
(duplicated), both must be 0. Shed requests are not resent here: a 503 is a clean refusal
the provider redelivers (the recovery of resends is test_overload's and the widget's).
Kinds whose stored text carries the run and request number: telegram, vk,
new_conversations."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from typing import TYPE_CHECKING, Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import percentile

if TYPE_CHECKING:
    from bench.ingest import Target

CLIENT_TIMEOUT = 10.0


def _generate(kind: str, target: Target, phases: list[tuple[float, float]], run_id: str) -> Any:
    return asyncio.run(_generate_async(kind, target, phases, run_id))


async def _generate_async(
    kind: str, target: Target, phases: list[tuple[float, float]], run_id: str
) -> list[tuple[int, float, float, int]]:
    """(n, scheduled second, latency ms, status; 0 = no answer) for every request."""
    from bench.ingest import build_request

    schedule: list[float] = []
    t0 = 0.0
    for rate, seconds in phases:
        schedule += [t0 + i / rate for i in range(int(rate * seconds))]
        t0 += seconds
    requests = [build_request(kind, target, n, run_id) for n in range(len(schedule))]
    out: list[tuple[int, float, float, int]] = []
    connector = aiohttp.TCPConnector(limit=2048)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.perf_counter() + 0.05

        async def one(i: int) -> None:
            method, path, body, headers = requests[i]
            scheduled = start + schedule[i]
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            base = target.bases[i % len(target.bases)]
            try:
                async with session.request(method, base + path, data=body, headers=headers) as r:
                    await r.read()
                    status = r.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            out.append((i, schedule[i], (time.perf_counter() - scheduled) * 1000, status))

        await asyncio.gather(*(one(i) for i in range(len(requests))))
    return out


async def stored(url: str, run_id: str) -> dict[str, int]:
    """How many times each of this run's messages is stored, by its text."""
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT text, count(*) FROM messages WHERE text LIKE :p GROUP BY text"),
            {"p": f"bench {run_id} %"},
        )
        found = {r[0]: int(r[1]) for r in rows}
    await engine.dispose()
    return found


def recovery_seconds(
    results: list[tuple[int, float, float, int]], from_second: float, p99_target_ms: float
) -> float | None:
    """Seconds after `from_second` until the first one-second window whose p99 (of all
    answers) is within the target and stays so for the rest of the run."""
    windows: dict[int, list[float]] = {}
    for _, scheduled, latency, _ in results:
        if scheduled >= from_second:
            windows.setdefault(int(scheduled - from_second), []).append(latency)
    bad = [w for w, lat in windows.items() if percentile(lat, 99) > p99_target_ms]
    if not windows:
        return None
    if not bad:
        return 0.0
    last_bad = max(bad)
    return float(last_bad + 1) if last_bad + 1 in windows else None


async def overload(
    url: str,
    target: Target,
    kind: str,
    capacity: float,
    p99_target_ms: float,
    *,
    seconds: tuple[float, float] = (10.0, 10.0),
) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    phases = [(2 * capacity, seconds[0]), (0.5 * capacity, seconds[1])]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        results: list[tuple[int, float, float, int]] = pool.apply(
            _generate, (kind, target, phases, run_id)
        )
    await asyncio.sleep(1)  # the last commits
    counts = await stored(url, run_id)
    # The text the n-th request stores (these kinds' texts are "bench <run> <n>").
    accepted_keys = [f"bench {run_id} {n}" for n, _, _, status in results if 200 <= status < 300]
    total = len(results)
    statuses: dict[int, int] = {}
    for *_, status in results:
        statuses[status] = statuses.get(status, 0) + 1
    answered = [lat for _, _, lat, status in results if status]
    accepted = [lat for _, _, lat, status in results if 200 <= status < 300]
    return {
        "kind": kind,
        "capacity": capacity,
        "offered": [f"{r:.0f}/s x {s:.0f} s" for r, s in phases],
        "requests": total,
        "statuses": statuses,
        "share 503": statuses.get(503, 0) / total,
        "share 429": statuses.get(429, 0) / total,
        "timed out": statuses.get(0, 0),
        "p99 of answers ms": percentile(answered, 99),
        "p99 of 503s ms": percentile([lat for _, _, lat, s in results if s == 503], 99),
        "p99 of accepted ms": percentile(accepted, 99),
        "seconds to normal": recovery_seconds(results, seconds[0], p99_target_ms),
        "lost": sum(1 for k in accepted_keys if k not in counts),
        "duplicated": sum(c - 1 for c in counts.values() if c > 1),
    }
