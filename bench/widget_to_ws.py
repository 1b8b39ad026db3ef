"""Latency from a widget POST to the operator's WebSocket seeing message.created.

    python -m bench.widget_to_ws [--messages 300] [--visitors 30] [--rate 50]

The service runs as in production (`python -m app serve --workers N`, see bench.common).
Database: CHATCENTRE_DATABASE_URL, or the embedded server in .chatcentre/bench (database
chatcentre_bench_w2ws). One operator WebSocket is connected; N widget
messages are posted open-loop at a fixed rate from visitors in turn, and for each one the
time from just before the POST to the WebSocket frame carrying its message id is taken.
Prints one table and writes bench/results/widget_to_ws.json."""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.common import admin_token, seed_admin, start_node, wait_ready
from bench.wsload import own_database, unlimited

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "widget_to_ws.json"


def _percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


async def bench(messages: int, visitors: int, rate: float, workers: int) -> dict[str, Any]:
    db_kind = "CHATCENTRE_DATABASE_URL" if os.environ.get("CHATCENTRE_DATABASE_URL") else "embedded"
    database_url = await own_database("chatcentre_bench_w2ws")
    await seed_admin(database_url)
    node = start_node(database_url, workers=workers, **unlimited())
    port = node.port
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    try:
        async with httpx.AsyncClient(base_url=node.base, limits=limits, timeout=30) as client:
            await wait_ready([node])
            admin = await admin_token(client)
            headers = {"Authorization": f"Bearer {admin}"}
            r = await client.post(
                "/api/v1/channels",
                json={"type": "webchat", "name": "bench", "settings": {}},
                headers=headers,
            )
            r.raise_for_status()
            key = r.json()["public_key"]
            tokens = []
            for i in range(visitors):
                r = await client.post(f"/widget/v1/{key}/sessions", json={"name": f"v{i}"})
                r.raise_for_status()
                tokens.append(r.json()["visitor_token"])

            seen: dict[int, float] = {}
            sent: dict[int, float] = {}
            all_seen = asyncio.Event()
            posting_done = False
            async with websockets.connect(f"ws://127.0.0.1:{port}/api/v1/ws?token={admin}") as ws:
                while '"ready"' not in str(await ws.recv()):
                    pass

                async def receive() -> None:
                    async for raw in ws:
                        now = time.perf_counter()
                        frame = json.loads(raw)
                        batch = frame.get("type") == "batch"
                        for event in frame["events"] if batch else [frame]:
                            if event.get("type") == "message.created":
                                seen.setdefault(event["data"]["id"], now)
                        if posting_done and set(sent) <= set(seen):
                            all_seen.set()

                receiver = asyncio.create_task(receive())
                errors = 0

                async def post(n: int) -> None:
                    nonlocal errors
                    token = tokens[n % visitors]
                    t0 = time.perf_counter()
                    r = await client.post(
                        f"/widget/v1/{key}/messages",
                        json={"text": f"bench message {n}", "client_message_id": f"b{n}"},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    if r.status_code != 201:
                        errors += 1
                        return
                    sent[r.json()["message"]["id"]] = t0

                started = time.perf_counter()
                tasks = []
                for n in range(messages):  # open loop: a fixed pace, not waiting for answers
                    target = started + n / rate
                    delay = target - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(post(n)))
                await asyncio.gather(*tasks)
                posting_done = True
                if not set(sent) <= set(seen):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(all_seen.wait(), timeout=10)
                elapsed = time.perf_counter() - started
                receiver.cancel()
    finally:
        node.stop()

    latencies = sorted((seen[i] - t0) * 1000 for i, t0 in sent.items() if i in seen)
    missing = len(sent) - len(latencies)
    summary: dict[str, Any] = {
        "count": len(latencies),
        "p50_ms": round(_percentile(latencies, 50), 2) if latencies else None,
        "p90_ms": round(_percentile(latencies, 90), 2) if latencies else None,
        "p99_ms": round(_percentile(latencies, 99), 2) if latencies else None,
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else None,
        "missing_on_ws": missing,
        "post_errors": errors,
    }
    return {
        "benchmark": "widget_to_ws",
        "measures": "widget POST sent -> operator WebSocket message.created received",
        "messages": messages,
        "visitors": visitors,
        "rate_per_s": rate,
        "wall_seconds": round(elapsed, 2),
        "database": db_kind,
        "bus": "postgres LISTEN/NOTIFY",
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "summary": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--rate", type=float, default=50.0, help="widget POSTs per second")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    result = asyncio.run(bench(args.messages, args.visitors, args.rate, args.workers))
    s = result["summary"]
    print(
        f"widget POST -> operator WS message.created  "
        f"({result['messages']} messages, {result['visitors']} visitors, "
        f"{result['rate_per_s']:g}/s, {result['database']})"
    )
    print(f"{'count':>7} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    print(f"{s['count']:>7} {s['p50_ms']:>9} {s['p90_ms']:>9} {s['p99_ms']:>9} {s['max_ms']:>9}")
    if s["missing_on_ws"] or s["post_errors"]:
        print(f"missing on WS: {s['missing_on_ws']}, POST errors: {s['post_errors']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
