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
    labels: list[int | None] | None = None,
) -> None:
    """Process entry: open one WebSocket per url, wait for each one's "ready", report
    ready.put(n_open), then read until `stop` is set; results.put(summary).

    `labels` (one per url): the team whose console the socket is (None: an admin's). The
    summary then also gives the receipts per label, and counts as leaked every event about
    a conversation of another team that reached a team's console."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    raise_nofile(len(urls) + 256)
    tagged = labels if labels is not None else [None] * len(urls)
    results.put(asyncio.run(_hold(urls, tagged, ready, stop, record, deflate)))


async def _hold(
    urls: list[str],
    labels: list[int | None],
    ready: Any,
    stop: Any,
    record: bool,
    deflate: bool,
) -> Any:
    import websockets

    seen: dict[int, list[float]] = defaultdict(list)  # message id -> receipt times
    by_label: dict[int | None, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    opened: dict[int | None, int] = defaultdict(int)
    leaked = 0
    frames = 0
    closed: dict[str, int] = defaultdict(int)
    failed = 0
    sockets: list[tuple[Any, int | None]] = []
    gate = asyncio.Semaphore(64)  # connect in waves, as consoles would after a deploy

    async def open_one(url: str, label: int | None) -> None:
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
                sockets.append((ws, label))
                opened[label] += 1
            except Exception:
                failed += 1

    await asyncio.gather(*(open_one(u, label) for u, label in zip(urls, labels, strict=True)))

    received: list[tuple[int | None, list[tuple[float, str]]]] = []

    async def read(ws: Any, label: int | None) -> None:
        # Only the receipt time and the raw frame here: parsing waits until the load is
        # over, so the console side spends as little CPU as possible during the measure.
        nonlocal frames
        log: list[tuple[float, str]] = []
        received.append((label, log))
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

    readers = [asyncio.create_task(read(ws, label)) for ws, label in sockets]
    ready.put({"open": len(sockets), "failed": failed})
    # This process's CPU while it only receives: its share of the machine's cores.
    cpu_started, wall_started = time.process_time(), time.monotonic()
    while not stop.is_set():  # noqa: ASYNC110 (a multiprocessing Event)
        await asyncio.sleep(0.1)
    cpu_s, wall_s = time.process_time() - cpu_started, time.monotonic() - wall_started
    open_at_stop = sum(1 for ws, _ in sockets if ws.close_code is None)
    for ws, _ in sockets:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ws.close(), 2)
    for t in readers:
        t.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for label, log in received:
        mine: set[int] = set()
        for now, raw in log:
            frame = orjson.loads(raw)
            for event in frame["events"] if frame.get("type") == "batch" else [frame]:
                kind = event.get("type", "")
                if label is not None and _team_of(event) not in (None, label):
                    leaked += 1
                if kind == "message.created":
                    mid = event["data"]["id"]
                    if mid not in mine:
                        mine.add(mid)
                        seen[mid].append(now)
                        by_label[label][mid].append(now)
    return {
        "seen": dict(seen),
        "by_label": {k: dict(v) for k, v in by_label.items()},
        "opened_by_label": dict(opened),
        "leaked": leaked,
        "cpu_s": cpu_s,
        "wall_s": wall_s,
        "frames": frames,
        "open_at_stop": open_at_stop,
        "closed_early": {k: v for k, v in closed.items() if k not in ("1000", "1001")},
        "failed": failed,
    }


def _team_of(event: dict[str, Any]) -> int | None:
    """The team of the conversation an event is about (None: not about one, or no team)."""
    kind = event.get("type", "")
    if kind.startswith("message."):
        conv = event.get("conversation") or {}
    elif kind.startswith("conversation."):
        conv = event.get("data") or {}
    else:
        return None
    team = conv.get("team_id")
    return team if isinstance(team, int) else None


def post_widget(
    base: str, key: str | list[str], tokens: list[str], rate: float, seconds: float, run_id: str
) -> dict[str, Any]:
    """Process entry: widget messages open-loop at `rate` for `seconds`, message i from
    visitor i % len(tokens) (`key`: the widget's, or one per visitor). Returns for each
    accepted message (id, scheduled send time, 201 received time), which visitor sent it
    (`visitor_of`), the statuses, and its own CPU seconds (`cpu_s`)."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    return asyncio.run(_post_widget(base, key, tokens, rate, seconds, run_id))


async def _post_widget(
    base: str, key: str | list[str], tokens: list[str], rate: float, seconds: float, run_id: str
) -> dict[str, Any]:
    total = max(1, int(rate * seconds))
    # `base`: one node, or several separated by commas (requests go round-robin).
    bases = base.split(",")
    keys = [key] * len(tokens) if isinstance(key, str) else key
    visitor_of: dict[int, int] = {}
    bodies = [
        orjson.dumps({"text": f"bench {run_id} {i}", "client_message_id": f"{run_id}-{i}"})
        for i in range(total)
    ]
    sent: list[tuple[int, float, float]] = []
    statuses: dict[int, int] = defaultdict(int)
    connector = aiohttp.TCPConnector(limit=256)
    cpu_started = time.process_time()
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
                url = f"{bases[i % len(bases)]}/widget/v1/{keys[i % len(tokens)]}/messages"
                async with session.post(url, data=bodies[i], headers=headers) as resp:
                    body = await resp.read()
                    status = resp.status
            except aiohttp.ClientError:
                status = 0
            done = time.monotonic()
            statuses[status] += 1
            if status == 201:
                mid = orjson.loads(body)["message"]["id"]
                sent.append((mid, scheduled, done))
                visitor_of[mid] = i % len(tokens)

        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.monotonic() - start
    return {
        "sent": sent,
        "visitor_of": visitor_of,
        "statuses": dict(statuses),
        "elapsed": elapsed,
        "offered": total,
        "cpu_s": time.process_time() - cpu_started,  # this load generator's own CPU
    }
