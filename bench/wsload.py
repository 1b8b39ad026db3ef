"""Load-generator pieces shared by the fan-out and memory benches, each run in processes of
their own (multiprocessing, spawn): WebSocket clients that hold many sockets open and record
when each message.created frame arrived, and an open-loop widget poster.

Times are time.monotonic(), which on Linux is one clock for every process on the machine,
so a receipt in one process can be subtracted from a send in another."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections import defaultdict
from typing import Any

import aiohttp
import orjson

from bench.common import DATA_DIR, database


def unlimited() -> dict[str, str]:
    """Every CHATCENTRE_RATE_LIMIT_* lifted (common.UNLIMITED may lag behind new ones)."""
    from app.config import Settings

    return {
        f"CHATCENTRE_{name.upper()}": "100000000/minute"
        for name in Settings.model_fields
        if name.startswith("rate_limit_")
    }


async def own_database(name: str) -> str:
    """bench.common.database(), but on a database of this bench's own on the embedded
    server (benches run side by side must not truncate each other's tables).
    CHATCENTRE_DATABASE_URL, when set, is used as is."""
    import os

    if not os.environ.get("CHATCENTRE_DATABASE_URL"):
        from app.db.embedded import start_embedded

        os.environ["CHATCENTRE_DATABASE_URL"] = start_embedded(DATA_DIR, database=name)
    return await database()


def raise_nofile(wanted: int) -> int:
    """Raise the soft open-files limit towards `wanted` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def hold_sockets(
    urls: list[str],
    ready: Any,
    stop: Any,
    results: Any,
    record: bool,
    deflate: bool = True,
) -> None:
    """Process entry: open one WebSocket per url, wait for each one's "ready", report
    ready.put(n_open), then read until `stop` is set; results.put(summary)."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    raise_nofile(len(urls) + 256)
    results.put(asyncio.run(_hold(urls, ready, stop, record, deflate)))


async def _hold(urls: list[str], ready: Any, stop: Any, record: bool, deflate: bool) -> Any:
    import websockets

    seen: dict[int, list[float]] = defaultdict(list)  # message id -> receipt times
    frames = 0
    closed: dict[str, int] = defaultdict(int)
    failed = 0
    sockets: list[Any] = []
    gate = asyncio.Semaphore(64)  # connect in waves, as consoles would after a deploy

    async def open_one(url: str) -> None:
        nonlocal failed
        async with gate:
            try:
                ws = await websockets.connect(
                    url,
                    compression="deflate" if deflate else None,
                    max_queue=None,
                    ping_interval=None,
                    open_timeout=60,
                )
                while b'"ready"' not in (await ws.recv()).encode():
                    pass
                sockets.append(ws)
            except Exception:
                failed += 1

    await asyncio.gather(*(open_one(u) for u in urls))

    received: list[list[tuple[float, str]]] = []

    async def read(ws: Any) -> None:
        # Only the receipt time and the raw frame here: parsing waits until the load is
        # over, so the console side spends as little CPU as possible during the measure.
        nonlocal frames
        log: list[tuple[float, str]] = []
        received.append(log)
        try:
            async for raw in ws:
                frames += 1
                if record:
                    log.append((time.monotonic(), raw))
        except Exception:  # noqa: S110 (a dropped socket shows in close_code)
            pass
        code = ws.close_code
        if code is not None:
            closed[str(code)] += 1

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    ready.put({"open": len(sockets), "failed": failed})
    while not stop.is_set():  # noqa: ASYNC110 (a multiprocessing Event)
        await asyncio.sleep(0.1)
    open_at_stop = sum(1 for ws in sockets if ws.close_code is None)
    for ws in sockets:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)
    for t in readers:
        t.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for log in received:
        mine: set[int] = set()
        for now, raw in log:
            frame = orjson.loads(raw)
            for event in frame["events"] if frame.get("type") == "batch" else [frame]:
                if event.get("type") == "message.created":
                    mid = event["data"]["id"]
                    if mid not in mine:
                        mine.add(mid)
                        seen[mid].append(now)
    return {
        "seen": dict(seen),
        "frames": frames,
        "open_at_stop": open_at_stop,
        "closed_early": {k: v for k, v in closed.items() if k not in ("1000", "1001")},
        "failed": failed,
    }


def post_widget(
    base: str, key: str, tokens: list[str], rate: float, seconds: float, run_id: str
) -> dict[str, Any]:
    """Process entry: widget messages open-loop at `rate` for `seconds`. Returns for each
    accepted message (id, scheduled send time, 201 received time), and the statuses."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    return asyncio.run(_post_widget(base, key, tokens, rate, seconds, run_id))


async def _post_widget(
    base: str, key: str, tokens: list[str], rate: float, seconds: float, run_id: str
) -> dict[str, Any]:
    total = max(1, int(rate * seconds))
    # `base`: one node, or several separated by commas (requests go round-robin).
    urls = [f"{b}/widget/v1/{key}/messages" for b in base.split(",")]
    bodies = [
        orjson.dumps({"text": f"bench {run_id} {i}", "client_message_id": f"{run_id}-{i}"})
        for i in range(total)
    ]
    sent: list[tuple[int, float, float]] = []
    statuses: dict[int, int] = defaultdict(int)
    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.monotonic() + 0.05

        async def one(i: int) -> None:
            scheduled = start + i / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            headers = {
                "Authorization": f"Bearer {tokens[i % len(tokens)]}",
                "Content-Type": "application/json",
            }
            try:
                url = urls[i % len(urls)]
                async with session.post(url, data=bodies[i], headers=headers) as resp:
                    body = await resp.read()
                    status = resp.status
            except aiohttp.ClientError:
                status = 0
            done = time.monotonic()
            statuses[status] += 1
            if status == 201:
                sent.append((orjson.loads(body)["message"]["id"], scheduled, done))

        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.monotonic() - start
    return {"sent": sent, "statuses": dict(statuses), "elapsed": elapsed, "offered": total}
