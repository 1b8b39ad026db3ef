"""Memory: RSS of a node (per process and summed) idle, with 5,000 idle WebSockets open,
and under widget ingest load with those sockets still open.

    python -m bench.memory [--sockets 5000] [--socket-procs 2] [--kind visitor|operator]
                           [--rate 100] [--seconds 10] [--workers 2] [--smoke]

The service runs as in production (`python -m app serve --workers N`, real PostgreSQL).
RSS is read with psutil for the `serve` process and every child (uvicorn's supervisor and
its workers). Idle sockets are widget visitor WebSockets (`/widget/v1/{key}/ws`; each
receives only its own visitor's messages, so they stay idle while others post), opened
from --socket-procs separate processes; --kind operator opens operator consoles instead
(admins: they receive every event, so under load they are not idle). The load is widget
posts from other visitors, open-loop at --rate for --seconds; RSS is sampled every 0.5 s
and the peak is reported."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
import uuid
from typing import Any

import httpx
import psutil

from bench.common import Node, Report, admin_token, seed_admin, start_node, wait_ready
from bench.wsload import hold_sockets, own_database, post_widget, unlimited


def rss(node: Node) -> dict[str, float]:
    """RSS in MB per process of the node: 'serve', then 'worker N' for its children."""
    out: dict[str, float] = {}
    parent = psutil.Process(node.proc.pid)
    procs = [parent, *parent.children(recursive=True)]
    for i, p in enumerate(procs):
        try:
            out["serve" if i == 0 else f"child {i} (pid {p.pid})"] = p.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            continue
    return out


async def settle(node: Node, seconds: float) -> dict[str, float]:
    await asyncio.sleep(seconds)
    return rss(node)


async def sessions(client: httpx.AsyncClient, key: str, n: int) -> list[str]:
    gate = asyncio.Semaphore(32)

    async def one(i: int) -> str:
        async with gate:
            r = await client.post(f"/widget/v1/{key}/sessions", json={"name": f"m{i}"})
            r.raise_for_status()
            return str(r.json()["visitor_token"])

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def run(args: argparse.Namespace) -> None:
    url = await own_database("chatcentre_bench_memory")
    await seed_admin(url)
    node = start_node(url, workers=args.workers, **unlimited())
    mp = multiprocessing.get_context("spawn")
    ready, results, stop = mp.Queue(), mp.Queue(), mp.Event()
    procs: list[Any] = []
    loop = asyncio.get_running_loop()
    try:
        await wait_ready([node])
        async with httpx.AsyncClient(base_url=node.base, timeout=60) as client:
            token = await admin_token(client)
            r = await client.post(
                "/api/v1/channels",
                json={"type": "webchat", "name": "bench memory"},
                headers={"Authorization": f"Bearer {token}"},
            )
            r.raise_for_status()
            key = r.json()["public_key"]
            posters = await sessions(client, key, args.posters)
            # Warm up: every code path of the load once (imports, pools, caches).
            await loop.run_in_executor(None, _post_in_process, node.base, key, posters, 50.0, 1.0)
            if args.kind == "visitor":
                # Up to 10 sockets per visitor session (tabs), none of them the posters.
                holders = await sessions(client, key, max(1, args.sockets // 10))
                ws = f"ws://127.0.0.1:{node.port}/widget/v1/{key}/ws?token="
                paths = [ws + holders[i % len(holders)] for i in range(args.sockets)]
            else:
                paths = [f"ws://127.0.0.1:{node.port}/api/v1/ws?token={token}"] * args.sockets
        idle = await settle(node, 2.0)
        print(f"  idle: {sum(idle.values()):.0f} MB")

        t0 = time.monotonic()
        for p in range(args.socket_procs):
            share = paths[p :: args.socket_procs]
            proc = mp.Process(target=hold_sockets, args=(share, ready, stop, results, False))
            proc.start()
            procs.append(proc)
        opened = 0
        for _ in procs:
            info = await loop.run_in_executor(None, ready.get, True, 600)
            opened += info["open"]
        connect_s = time.monotonic() - t0
        with_sockets = await settle(node, 3.0)
        print(f"  {opened} sockets open in {connect_s:.1f} s: {sum(with_sockets.values()):.0f} MB")

        peak: dict[str, float] = {}
        done = False

        async def sample() -> None:
            while not done:
                for k, v in rss(node).items():
                    peak[k] = max(peak.get(k, 0.0), v)
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        posted = await loop.run_in_executor(
            None, _post_in_process, node.base, key, posters, args.rate, args.seconds
        )
        done = True
        await sampler
        after = await settle(node, 2.0)
        print(f"  under load: peak {sum(peak.values()):.0f} MB, statuses {posted['statuses']}")
        stop.set()
        closed = 0
        for _ in procs:
            res = await loop.run_in_executor(None, results.get, True, 120)
            closed += opened and sum(res["closed_early"].values())
        for proc in procs:
            proc.join(30)
    finally:
        stop.set()
        node.stop()

    names = list(with_sockets)
    report = Report(
        f"Memory: RSS (MB) of 1 node x {args.workers} workers, {opened} idle {args.kind} "
        f"WebSockets from {args.socket_procs} client procs, load {args.rate:g} widget msg/s",
        ["process", "idle", f"{opened} sockets", "KB per socket", "peak under load", "after load"],
    )
    for name in names:
        base = idle.get(name, 0.0)
        report.rows.append(
            [
                name,
                round(base, 1),
                round(with_sockets[name], 1),
                "",
                round(peak.get(name, 0.0), 1),
                round(after.get(name, 0.0), 1),
            ]
        )
    total_idle, total_ws = sum(idle.values()), sum(with_sockets.values())
    report.rows.append(
        [
            "total",
            round(total_idle, 1),
            round(total_ws, 1),
            round((total_ws - total_idle) * 1024 / max(1, opened), 1),
            round(sum(peak.values()), 1),
            round(sum(after.values()), 1),
        ]
    )
    report.notes = {
        "sockets": f"{opened} open of {args.sockets}, connected in {connect_s:.1f} s, "
        f"{closed} closed by the server during the run",
        "load": f"{sum(posted['statuses'].values())} posts, statuses {posted['statuses']}",
    }
    report.print()
    print(f"written {report.save(args.output)}")


def _post_in_process(
    base: str, key: str, tokens: list[str], rate: float, seconds: float
) -> dict[str, Any]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        result: dict[str, Any] = pool.apply(
            post_widget, (base, key, tokens, rate, seconds, uuid.uuid4().hex[:8])
        )
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--socket-procs", type=int, default=2)
    parser.add_argument("--kind", choices=("visitor", "operator"), default="visitor")
    parser.add_argument("--rate", type=float, default=100.0, help="widget posts/s under load")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--posters", type=int, default=100, help="visitors posting the load")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no thresholds")
    parser.add_argument("--output", default="memory.json")
    args = parser.parse_args()
    if args.smoke:
        args.sockets, args.socket_procs, args.rate, args.seconds, args.posters = 50, 1, 20, 1, 5
        args.workers = 1  # one worker starts faster
        if args.output == "memory.json":
            args.output = "memory-smoke.json"
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
