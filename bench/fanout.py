"""Live fan-out: time from a message's commit to its event on operator WebSockets, with
100 and with 1,000 consoles connected, while widget ingest runs at a fixed rate.

    python -m bench.fanout [--consoles 100,1000] [--ingest-rate 200] [--load-fraction 0.5]
                           [--seconds 10] [--workers 2] [--no-deflate] [--smoke]
                           [--audience admins|operators|teams] [--supervisors 10]
                           [--teams 10] [--consoles-per-team 100] [--rates 100,250]

The service runs as in production (`python -m app serve --workers N`, real PostgreSQL).
Consoles are WebSockets (`/api/v1/ws?token=...`) opened from separate processes (1,000
spread over 2), offering permessage-deflate as browsers do. Audience `admins` (the worst
case): every console is an admin's and must see every message. Audience `operators` (a
chat centre's real shape): operator consoles, each seeing the chats routing gave it, plus
--supervisors admin consoles that see everything; a message must reach its assignee and
every supervisor. Audience `teams` (a shared queue, issue 22): --teams teams with manual
routing (nothing is assigned, so every conversation waits in its team's queue and every
console of the team sees it), --consoles-per-team operator consoles in each, plus
--supervisors admin consoles: a message must reach its team's consoles and every
supervisor, and no event about a conversation may reach another team's console (counted
as leaked). Another process posts widget messages open-loop at load-fraction x
ingest-rate (ingest-rate: the widget max found by bench.ingest), or at each of --rates.
For every accepted message and every console: latency from the 201 response (the commit
happened before it) and from the POST's scheduled send time, to the frame carrying its id.
Every console must see it (no catch-up in the bench); what one did not see is counted as missed.

Floor, in the same run: raw asyncpg LISTEN/NOTIFY round trip (pg_notify on one connection,
received on another), idle and while the 1,000-console step runs."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from bench.common import (
    SECRET,
    Node,
    Report,
    admin_token,
    embedded_postmaster,
    percentile,
    seed_admin,
    start_node,
    tree_cpu,
    wait_ready,
)
from bench.wsload import hold_sockets, own_database, post_widget, unlimited


@dataclass
class Teams:
    """The teams audience: team ids, their operators' tokens (team by team), the widget
    key of each visitor and the team each visitor writes to."""

    ids: list[int]
    operators: list[list[str]]
    keys: list[str]
    of_visitor: list[int]


def _cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


async def settle(url: str, want: int, timeout: float = 180) -> tuple[float, int]:
    """Waits until the consoles' presence bookkeeping is done: the operators' live sessions
    add up to `want` (the consoles open), or stop changing for 5 s (a close that failed
    leaves a count behind). Returns the seconds waited and the live sessions counted last."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    started = time.monotonic()
    last, since, live = -1, started, -1
    try:
        while time.monotonic() - started < timeout:
            live = await conn.fetchval("SELECT COALESCE(sum(live_sessions), 0) FROM operators")
            now = time.monotonic()
            if live == want:
                break
            if live != last:
                last, since = live, now
            elif now - since > 5:
                break
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    return time.monotonic() - started, live


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


async def team_operator_tokens(url: str, teams: list[int], per_team: int) -> list[list[str]]:
    """`per_team` operator accounts in each team (straight into the database, as
    operator_tokens), with their tokens, team by team."""
    from app.operators.auth import OPERATOR_TOKEN
    from app.operators.security import hash_password, issue_token

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    found: list[list[str]] = []
    try:
        for team in teams:
            ids = await conn.fetch(
                "INSERT INTO operators (email, name, password_hash, role) "
                "SELECT 't' || $3 || 'op' || g || '@bench.example', 't' || $3 || 'op' || g, "
                "$1, 'operator' FROM generate_series(1, $2) g RETURNING id",
                hash_password(uuid.uuid4().hex),
                per_team,
                str(team),
            )
            await conn.executemany(
                "INSERT INTO team_members (team_id, operator_id) VALUES ($1, $2)",
                [(team, r["id"]) for r in ids],
            )
            found.append(
                [
                    issue_token(SECRET, OPERATOR_TOKEN, str(r["id"]), 3600, role="operator", ver=0)
                    for r in ids
                ]
            )
    finally:
        await conn.close()
    return found


async def setup_teams(
    node: Node, url: str, teams: int, visitors: int
) -> tuple[str, list[int], list[str], list[str]]:
    """`teams` teams with manual routing (a shared queue: nothing is assigned, so a team's
    conversations are visible to all its members), a web chat of each, and `visitors`
    visitors spread over them, each with one conversation open. Returns the admin token,
    the team ids, and per visitor its widget key and token."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "INSERT INTO teams (name, strategy) SELECT 'bench team ' || g, 'manual' "
            "FROM generate_series(1, $1) g RETURNING id",
            teams,
        )
    finally:
        await conn.close()
    team_ids = [r["id"] for r in rows]
    keys: list[str] = []
    tokens: list[str] = []
    async with httpx.AsyncClient(base_url=node.base, timeout=30) as client:
        token = await admin_token(client)
        channel_keys = []
        for team in team_ids:
            r = await client.post(
                "/api/v1/channels",
                json={"type": "webchat", "name": f"bench team {team}", "team_id": team},
                headers={"Authorization": f"Bearer {token}"},
            )
            r.raise_for_status()
            channel_keys.append(r.json()["public_key"])
        for i in range(visitors):  # visitor i writes to team i % teams
            key = channel_keys[i % teams]
            r = await client.post(f"/widget/v1/{key}/sessions", json={"name": f"v{i}"})
            r.raise_for_status()
            keys.append(key)
            tokens.append(r.json()["visitor_token"])
    for key in channel_keys:
        await open_conversations(
            node, key, [t for k, t in zip(keys, tokens, strict=True) if k == key]
        )
    return token, team_ids, keys, tokens


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
    rate: float,
    teams: Teams | None = None,
) -> dict[str, Any]:
    """`operators`: operator tokens (the operators audience); empty: every console is an
    admin's and sees every message. `teams`: the teams audience instead (`key` unused)."""
    mp = multiprocessing.get_context("spawn")
    procs_n = args.socket_procs or (1 if consoles <= 500 else 2)
    labels: list[int | None]
    if teams is not None:
        supervisors = args.supervisors
        tokens_of = [token] * supervisors
        labels = [None] * supervisors
        for team, team_tokens in zip(teams.ids, teams.operators, strict=True):
            tokens_of += team_tokens
            labels += [team] * len(team_tokens)
        consoles = len(tokens_of)
    elif operators:
        supervisors = min(args.supervisors, consoles)
        tokens_of = [token] * supervisors + operators[: consoles - supervisors]
        labels = [None] * consoles
    else:
        tokens_of = [token] * consoles
        labels = [None] * consoles
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
            args=(
                urls[p::procs_n],
                ready,
                stop,
                results,
                True,
                not args.no_deflate,
                labels[p::procs_n],
            ),
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
    settled_s, _ = await settle(url, want=opened)
    await asyncio.sleep(1.0 + (consoles / 200 if operators or teams else 0))

    load_before = os.getloadavg()
    serve_cpu = _cpu_of([pid for n in nodes for pid in n.pids()])
    postmaster = None if args.external_db else embedded_postmaster(check_env=False)
    pg_cpu = tree_cpu(postmaster) if postmaster else 0.0
    measure_started = time.monotonic()
    with mp.Pool(1) as pool:
        load = pool.apply_async(
            post_widget,
            (
                ",".join(n.base for n in nodes),
                teams.keys if teams is not None else key,
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
    serve_cpu = _cpu_of([pid for n in nodes for pid in n.pids()]) - serve_cpu
    pg_cpu = tree_cpu(postmaster) - pg_cpu if postmaster else float("nan")
    measured_s = time.monotonic() - measure_started
    load_after = os.getloadavg()
    stop.set()
    seen: dict[int, list[float]] = {}
    by_label: dict[int | None, dict[int, list[float]]] = {}
    opened_by_label: dict[int | None, int] = {}
    frames = 0
    leaked = 0
    console_cpu = 0.0
    console_wall = 0.0
    still_open = 0
    closed: dict[str, int] = {}
    for _ in procs:
        res = await loop.run_in_executor(None, results.get, True, 300)
        for mid, times in res["seen"].items():
            seen.setdefault(mid, []).extend(times)
        for label, mids in res["by_label"].items():
            mine = by_label.setdefault(label, {})
            for mid, times in mids.items():
                mine.setdefault(mid, []).extend(times)
        for label, n in res["opened_by_label"].items():
            opened_by_label[label] = opened_by_label.get(label, 0) + n
        leaked += res["leaked"]
        console_cpu += res["cpu_s"]
        console_wall = max(console_wall, res["wall_s"])
        frames += res["frames"]
        still_open += res["open_at_stop"]
        for code, n in res["closed_early"].items():
            closed[code] = closed.get(code, 0) + n
    for proc in procs:
        proc.join(30)
    # The closing burst (each console's presence change) must be over before the next step.
    # A close lost (its presence write failed) leaves its operator online with nobody there.
    closes_settled_s, live_left = await settle(url, want=0)

    from_commit: list[float] = []
    from_send: list[float] = []
    missed = 0
    last = 0.0
    # Who must see a message: every console (admins), its assignee and the supervisors
    # (operators), or every console of its team and the supervisors (teams).
    expected = opened if not operators else min(args.supervisors, consoles) + 1
    team_of_visitor = teams.of_visitor if teams is not None else []
    for mid, scheduled, responded in posted["sent"]:
        times = seen.get(mid, [])
        if teams is not None:
            team = team_of_visitor[posted["visitor_of"][mid]]
            expected = opened_by_label.get(None, 0) + opened_by_label.get(team, 0)
            # Receipts on another team's consoles are leaks (also counted per event above).
            for label, mids in by_label.items():
                if label not in (None, team) and mid in mids:
                    leaked += len(mids[mid])
            times = by_label.get(None, {}).get(mid, []) + by_label.get(team, {}).get(mid, [])
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
        "leaked": leaked,
        "settled_s": settled_s,
        "closes_settled_s": closes_settled_s,
        "live_sessions_left": live_left,
        "load_before": load_before,
        "load_after": load_after,
        "serve_cpu_s": serve_cpu,
        "serve_cpu_ms_per_message": serve_cpu * 1000 / len(posted["sent"])
        if posted["sent"]
        else float("nan"),
        "console_cpu_s": console_cpu,
        "serve_cpu_share": serve_cpu / measured_s / (os.cpu_count() or 1),
        # The rest of the machine's two cores during the same window: PostgreSQL (embedded
        # only) and the load generator (over its own posting time).
        "pg_cpu_share": pg_cpu / measured_s / (os.cpu_count() or 1),
        "poster_cpu_share": posted["cpu_s"] / max(posted["elapsed"], 1e-9) / (os.cpu_count() or 1),
        "console_cpu_share": console_cpu / console_wall / (os.cpu_count() or 1)
        if console_wall
        else 0.0,
        "closed_early": closed,
        "open_at_stop": still_open,
        "floor_under_load": floor,
    }


async def run(args: argparse.Namespace) -> int:
    """Runs the steps and prints the table; 1 when an event leaked to another team, or (in
    the teams audience, where nothing can legitimately be late) a console missed one."""
    args.external_db = bool(os.environ.get("CHATCENTRE_DATABASE_URL"))  # before own_database
    url = await own_database("chatcentre_bench_fanout")
    await seed_admin(url)
    nodes = [start_node(url, workers=args.workers, **unlimited()) for _ in range(args.nodes)]
    node = nodes[0]
    steps = []
    try:
        await wait_ready(nodes)
        counts = [int(c) for c in args.consoles.split(",")]
        by_operators = args.audience == "operators"
        teams: Teams | None = None
        operators: list[str] = []
        if args.audience == "teams":
            token, team_ids, keys, tokens = await setup_teams(node, url, args.teams, args.visitors)
            teams = Teams(
                team_ids,
                await team_operator_tokens(url, team_ids, args.consoles_per_team),
                keys,
                [team_ids[i % args.teams] for i in range(len(tokens))],
            )
            key = ""
            counts = [args.teams * args.consoles_per_team + args.supervisors]
        else:
            token, key, tokens = await setup(node, args.visitors, open_now=not by_operators)
            operators = await operator_tokens(url, max(counts)) if by_operators else []
        rates = (
            [float(r) for r in args.rates.split(",")]
            if args.rates
            else [args.ingest_rate * args.load_fraction]
        )
        args.opened = False
        idle = await notify_floor(url, args.floor_count, 100)
        cases = [(c, r) for c in counts for r in rates]
        for consoles, rate in cases:
            s = await step(
                args,
                url,
                nodes,
                token,
                key,
                tokens,
                consoles,
                (consoles, rate) == cases[-1],
                operators,
                rate,
                teams,
            )
            steps.append(s)
            print(
                f"  {s['consoles']:5d} consoles, {rate:g} msg/s: p50 {s['p50_commit']:.1f} ms  "
                f"p99 {s['p99_commit']:.1f} ms  missed {s['missed']}  leaked {s['leaked']}  "
                f"closed {s['closed_early']}  load {s['load_before'][0]:.1f}"
            )
    finally:
        for n in nodes:
            n.stop()

    floor_p50, floor_p99 = percentile(idle, 50), percentile(idle, 99)
    bus = os.environ.get("CHATCENTRE_BUS_BACKEND", "postgres")
    audience = {
        "admins": "admin consoles, each sees every message",
        "operators": f"operator consoles (each sees its own chats) + {args.supervisors} admin "
        "supervisors",
        "teams": f"{args.teams} teams x {args.consoles_per_team} operator consoles, manual "
        f"routing (each sees its team's queue) + {args.supervisors} admin supervisors",
    }[args.audience]
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
            "leaked",
            "p99 / floor p99",
            "load 1m before/after",
            "CPU share: serve / consoles / PostgreSQL / poster",
            "serve CPU ms per message",
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
                s["leaked"],
                round(s["p99_commit"] / floor_p99, 1) if floor_p99 else None,
                f"{s['load_before'][0]:.1f} / {s['load_after'][0]:.1f}",
                f"{s['serve_cpu_share']:.0%} / {s['console_cpu_share']:.0%} / "
                f"{s['pg_cpu_share']:.0%} / {s['poster_cpu_share']:.0%}",
                round(s["serve_cpu_ms_per_message"], 2),
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
            "",
            1.0,
            "",
            "",
            "",
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
                "",
                round(percentile(under, 99) / floor_p99, 1) if floor_p99 else None,
                "",
                "",
                "",
            ]
        )
    report.notes = {
        "offered rate": f"{args.rates}/s for {args.seconds:g} s each"
        if args.rates
        else f"{args.ingest_rate * args.load_fraction:g}/s for {args.seconds:g} s "
        f"({args.load_fraction:g} x --ingest-rate {args.ingest_rate:g})",
        "CPU share": "of all the machine's cores, during the load and the drain: the serve "
        "processes, the bench's own console processes (which only timestamp frames), the "
        "embedded PostgreSQL (nan with CHATCENTRE_DATABASE_URL), and the load generator "
        "(over its posting time)",
    }
    report.print()
    report.notes["steps"] = [{k: v for k, v in s.items() if k != "floor_under_load"} for s in steps]
    print(f"written {report.save(args.output)}")
    leaked = sum(s["leaked"] for s in steps)
    missed = sum(s["missed"] for s in steps) if args.audience == "teams" else 0
    if leaked or missed:
        print(f"FAILED: {leaked} events leaked to another team, {missed} missed")
        return 1
    return 0


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
        "--rates",
        default="",
        help="offered msg/s, comma-separated, one step each (instead of --ingest-rate x "
        "--load-fraction)",
    )
    parser.add_argument(
        "--audience",
        choices=("admins", "operators", "teams"),
        default="admins",
        help="admins: every console sees every message; operators: operator consoles that "
        "see their own (routed) chats, plus --supervisors admin consoles; teams: --teams x "
        "--consoles-per-team operator consoles with manual routing, each seeing its team's "
        "whole queue, plus --supervisors admin consoles (--consoles is ignored)",
    )
    parser.add_argument("--supervisors", type=int, default=10)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--consoles-per-team", type=int, default=100)
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no thresholds")
    parser.add_argument("--output", default="fanout.json")
    args = parser.parse_args()
    if args.smoke:
        args.consoles, args.ingest_rate, args.seconds, args.drain = "10", 40.0, 1.5, 0.5
        args.visitors, args.floor_count = 10, 50
        args.rates = ""
        args.teams, args.consoles_per_team, args.supervisors = 2, 4, 2
        args.workers = 1  # one worker starts faster
        if args.output == "fanout.json":
            args.output = "fanout-smoke.json"
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
