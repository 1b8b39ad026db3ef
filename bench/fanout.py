"""Live fan-out: time from a message's commit to its event on operator WebSockets, with
100 and with 1,000 consoles connected, while widget ingest runs at a fixed rate.

    python -m bench.fanout [--consoles 100,1000] [--ingest-rate 200] [--load-fraction 0.5]
                           [--seconds 10] [--workers 2] [--no-deflate] [--smoke]
                           [--audience admins|operators] [--supervisors 10]

The service runs as in production (`python -m app serve --workers N`, real PostgreSQL).
Consoles are WebSockets (`/api/v1/ws?token=...`) opened from separate processes (1,000
spread over 2), offering permessage-deflate as browsers do. Audience `admins` (the worst
case): every console is an admin's and must see every message. Audience `operators` (a
chat centre's real shape): operator consoles, each seeing the chats routing gave it, plus
--supervisors admin consoles that see everything; a message must reach its assignee and
every supervisor. Another process posts widget messages open-loop at load-fraction x
ingest-rate (ingest-rate: the widget max found by bench.ingest). For every accepted
message and every console: latency from the 201 response (the commit happened before it)
and from the POST's scheduled send time, to the frame carrying its id. Every console must
see it (no catch-up in the bench); what one did not see is counted as missed.

Floor, in the same run: raw asyncpg LISTEN/NOTIFY round trip (pg_notify on one connection,
received on another), idle and while the 1,000-console step runs."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
import uuid
from typing import Any

import asyncpg
import httpx

from bench.common import (
    SECRET,
    Node,
    Report,
    admin_token,
    percentile,
    seed_admin,
    start_node,
    wait_ready,
)
from bench.wsload import hold_sockets, own_database, post_widget, unlimited


async def notify_floor(url: str, count: int, rate: float) -> list[float]:
    """Round trips (ms) of pg_notify on one connection -> the listener on another."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    listener = await asyncpg.connect(dsn)
    sender = await asyncpg.connect(dsn)
    sent: dict[int, float] = {}
    got: dict[int, float] = {}

    def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        got[int(payload)] = time.monotonic()

    await listener.add_listener("bench_floor", on_notify)
    try:
        start = time.monotonic()
        for i in range(count):  # open loop: a fixed pace
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[i] = time.monotonic()
            await sender.execute("SELECT pg_notify('bench_floor', $1)", str(i))
        deadline = time.monotonic() + 5
        while len(got) < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    finally:
        await listener.close()
        await sender.close()
    return [(got[i] - sent[i]) * 1000 for i in sent if i in got]


async def operator_tokens(url: str, count: int) -> list[str]:
    """`count` operator accounts, straight into the database (argon2 for a thousand
    passwords would take a minute), with tokens signed as a login would sign them."""
    from app.operators.auth import OPERATOR_TOKEN
    from app.operators.security import hash_password, issue_token

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        ids = await conn.fetch(
            "INSERT INTO operators (email, name, password_hash, role, max_open_conversations) "
            "SELECT 'op' || g || '@bench.example', 'op' || g, $1, 'operator', 10 "
            "FROM generate_series(1, $2) g RETURNING id",
            hash_password(uuid.uuid4().hex),
            count,
        )
        # Supervisors watch; they take no chats (else a chat routed to the admin reaches
        # only the supervisors' consoles and would count as missed).
        await conn.execute("UPDATE operators SET max_open_conversations = 0 WHERE role = 'admin'")
    finally:
        await conn.close()
    return [
        issue_token(SECRET, OPERATOR_TOKEN, str(r["id"]), 3600, role="operator", ver=0) for r in ids
    ]


async def open_conversations(node: Node, key: str, tokens: list[str]) -> None:
    """One message per visitor: opens (and routes) each visitor's conversation."""
    async with httpx.AsyncClient(base_url=node.base, timeout=30) as client:
        for i, vt in enumerate(tokens):
            body = {"text": "hello", "client_message_id": f"warm-{uuid.uuid4().hex}-{i}"}
            for _ in range(10):  # a 503 (lock conflict) is resent, as the widget does
                r = await client.post(
                    f"/widget/v1/{key}/messages",
                    json=body,
                    headers={"Authorization": f"Bearer {vt}"},
                )
                if r.status_code != 503:
                    break
                await asyncio.sleep(0.2)
            r.raise_for_status()


async def setup(node: Node, visitors: int, open_now: bool = True) -> tuple[str, str, list[str]]:
    async with httpx.AsyncClient(base_url=node.base, timeout=30) as client:
        token = await admin_token(client)
        r = await client.post(
            "/api/v1/channels",
            json={"type": "webchat", "name": "bench fan-out"},
            headers={"Authorization": f"Bearer {token}"},
        )
        r.raise_for_status()
        key = r.json()["public_key"]
        tokens = []
        for i in range(visitors):
            r = await client.post(f"/widget/v1/{key}/sessions", json={"name": f"v{i}"})
            r.raise_for_status()
            tokens.append(r.json()["visitor_token"])
    if open_now:  # so the measured messages are plain messages
        await open_conversations(node, key, tokens)
    return token, key, tokens


async def step(
    args: argparse.Namespace,
    url: str,
    nodes: list[Node],
    token: str,
    key: str,
    tokens: list[str],
    consoles: int,
    floor_during: bool,
    operators: list[str],
) -> dict[str, Any]:
    """`operators`: operator tokens (the operators audience); empty: every console is an
    admin's and sees every message."""
    mp = multiprocessing.get_context("spawn")
    procs_n = args.socket_procs or (1 if consoles <= 500 else 2)
    if operators:
        supervisors = min(args.supervisors, consoles)
        tokens_of = [token] * supervisors + operators[: consoles - supervisors]
    else:
        tokens_of = [token] * consoles
    # Consoles spread over the nodes, as a load balancer would spread them.
    urls = [
        f"ws://127.0.0.1:{nodes[i % len(nodes)].port}/api/v1/ws?token={t}"
        for i, t in enumerate(tokens_of)
    ]
    node = nodes[0]
    ready, results, stop = mp.Queue(), mp.Queue(), mp.Event()
    procs = []
    for p in range(procs_n):
        proc = mp.Process(
            target=hold_sockets,
            args=(urls[p::procs_n], ready, stop, results, True, not args.no_deflate),
        )
        proc.start()
        procs.append(proc)
    loop = asyncio.get_running_loop()
    opened = 0
    failed = 0
    for _ in procs:
        info = await loop.run_in_executor(None, ready.get, True, 300)
        opened += info["open"]
        failed += info["failed"]
    if operators and not args.opened:
        # Now that operators are online, routing gives each new conversation to one of them.
        await open_conversations(node, key, tokens)
        args.opened = True
    # Let the connect burst settle: each console that opens is a presence event to every
    # operator console (a million frames for 1,000 operators), and a routing pass.
    await asyncio.sleep(1.0 + (consoles / 200 if operators else 0))

    rate = args.ingest_rate * args.load_fraction
    with mp.Pool(1) as pool:
        load = pool.apply_async(
            post_widget,
            (
                ",".join(n.base for n in nodes),
                key,
                tokens,
                rate,
                args.seconds,
                uuid.uuid4().hex[:8],
            ),
        )
        floor: list[float] = []
        if floor_during:
            floor = await notify_floor(url, int(args.seconds * 50), 50)
        posted: dict[str, Any] = await loop.run_in_executor(None, load.get, 600)
    await asyncio.sleep(args.drain)
    stop.set()
    seen: dict[int, list[float]] = {}
    frames = 0
    still_open = 0
    closed: dict[str, int] = {}
    for _ in procs:
        res = await loop.run_in_executor(None, results.get, True, 300)
        for mid, times in res["seen"].items():
            seen.setdefault(mid, []).extend(times)
        frames += res["frames"]
        still_open += res["open_at_stop"]
        for code, n in res["closed_early"].items():
            closed[code] = closed.get(code, 0) + n
    for proc in procs:
        proc.join(30)

    from_commit: list[float] = []
    from_send: list[float] = []
    missed = 0
    last = 0.0
    # Who must see a message: every console (admins), or its assignee and the supervisors.
    expected = opened if not operators else min(args.supervisors, consoles) + 1
    for mid, scheduled, responded in posted["sent"]:
        times = seen.get(mid, [])
        missed += max(0, expected - len(times))
        for t in times:
            from_commit.append((t - responded) * 1000)
            from_send.append((t - scheduled) * 1000)
            last = max(last, t)
    first = min((s for _, s, _ in posted["sent"]), default=0.0)
    delivered = len(from_commit)
    return {
        "consoles": consoles,
        "opened": opened,
        "connect_failed": failed,
        "socket_procs": procs_n,
        "rate": rate,
        "offered": posted["offered"],
        "accepted": len(posted["sent"]),
        "statuses": posted["statuses"],
        "p50_commit": percentile(from_commit, 50),
        "p99_commit": percentile(from_commit, 99),
        "max_commit": max(from_commit, default=float("nan")),
        "p50_send": percentile(from_send, 50),
        "p99_send": percentile(from_send, 99),
        "delivered": delivered,
        "delivered_per_s": delivered / (last - first) if last > first else 0.0,
        "frames": frames,
        "missed": missed,
        "closed_early": closed,
        "open_at_stop": still_open,
        "floor_under_load": floor,
    }


async def run(args: argparse.Namespace) -> None:
    url = await own_database("chatcentre_bench_fanout")
    await seed_admin(url)
    nodes = [start_node(url, workers=args.workers, **unlimited()) for _ in range(args.nodes)]
    node = nodes[0]
    steps = []
    try:
        await wait_ready(nodes)
        counts = [int(c) for c in args.consoles.split(",")]
        by_operators = args.audience == "operators"
        token, key, tokens = await setup(node, args.visitors, open_now=not by_operators)
        operators = await operator_tokens(url, max(counts)) if by_operators else []
        args.opened = False
        idle = await notify_floor(url, args.floor_count, 100)
        for consoles in counts:
            s = await step(
                args, url, nodes, token, key, tokens, consoles, consoles == max(counts), operators
            )
            steps.append(s)
            print(
                f"  {consoles:5d} consoles: p50 {s['p50_commit']:.1f} ms  "
                f"p99 {s['p99_commit']:.1f} ms  missed {s['missed']}  closed {s['closed_early']}"
            )
    finally:
        for n in nodes:
            n.stop()

    floor_p50, floor_p99 = percentile(idle, 50), percentile(idle, 99)
    bus = os.environ.get("CHATCENTRE_BUS_BACKEND", "postgres")
    audience = (
        "admin consoles, each sees every message"
        if args.audience == "admins"
        else f"operator consoles (each sees its own chats) + {args.supervisors} admin supervisors"
    )
    report = Report(
        f"Live fan-out ({args.nodes} node(s) x {args.workers} workers, bus {bus}, "
        f"widget ingest open-loop, {audience}, "
        f"{'no deflate' if args.no_deflate else 'permessage-deflate offered'})",
        [
            "case",
            "ingest msg/s",
            "p50 ms from commit",
            "p99 ms from commit",
            "p50 ms from send",
            "p99 ms from send",
            "delivered msg/s",
            "missed",
            "p99 / floor p99",
        ],
    )
    for s in steps:
        report.rows.append(
            [
                f"{s['consoles']} consoles ({s['socket_procs']} client procs)",
                round(s["accepted"] / args.seconds, 1),
                round(s["p50_commit"], 2),
                round(s["p99_commit"], 2),
                round(s["p50_send"], 2),
                round(s["p99_send"], 2),
                round(s["delivered_per_s"], 1),
                s["missed"],
                round(s["p99_commit"] / floor_p99, 1) if floor_p99 else None,
            ]
        )
    report.rows.append(
        [
            "floor: asyncpg NOTIFY->LISTEN, idle",
            "",
            round(floor_p50, 2),
            round(floor_p99, 2),
            "",
            "",
            "",
            len(idle) and args.floor_count - len(idle),
            1.0,
        ]
    )
    under = steps[-1]["floor_under_load"] if steps else []
    if under:
        report.rows.append(
            [
                f"floor: same, during the {steps[-1]['consoles']}-console step",
                "",
                round(percentile(under, 50), 2),
                round(percentile(under, 99), 2),
                "",
                "",
                "",
                "",
                round(percentile(under, 99) / floor_p99, 1) if floor_p99 else None,
            ]
        )
    report.notes = {
        "offered rate": f"{args.ingest_rate * args.load_fraction:g}/s for {args.seconds:g} s "
        f"({args.load_fraction:g} x --ingest-rate {args.ingest_rate:g})",
    }
    report.print()
    report.notes["steps"] = [{k: v for k, v in s.items() if k != "floor_under_load"} for s in steps]
    print(f"written {report.save(args.output)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consoles", default="100,1000")
    parser.add_argument(
        "--ingest-rate", type=float, default=200.0, help="widget max msg/s (from bench.ingest)"
    )
    parser.add_argument("--load-fraction", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--drain", type=float, default=3.0, help="seconds to wait after the load")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--nodes", type=int, default=1, help="serve processes (one database)")
    parser.add_argument("--visitors", type=int, default=100)
    parser.add_argument("--socket-procs", type=int, default=0, help="0: 1, or 2 above 500")
    parser.add_argument("--floor-count", type=int, default=500)
    parser.add_argument("--no-deflate", action="store_true", help="consoles without compression")
    parser.add_argument(
        "--audience",
        choices=("admins", "operators"),
        default="admins",
        help="admins: every console sees every message; operators: operator consoles that "
        "see their own (routed) chats, plus --supervisors admin consoles",
    )
    parser.add_argument("--supervisors", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no thresholds")
    parser.add_argument("--output", default="fanout.json")
    args = parser.parse_args()
    if args.smoke:
        args.consoles, args.ingest_rate, args.seconds, args.drain = "10", 40.0, 1.5, 0.5
        args.visitors, args.floor_count = 10, 50
        args.workers = 1  # one worker starts faster
        if args.output == "fanout.json":
            args.output = "fanout-smoke.json"
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
