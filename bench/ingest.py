"""Ingest: messages/s through the real inbound endpoints, against their floors.

    python -m bench.ingest [--kinds widget,telegram,whatsapp,vk,mixed] [--workers 2]
                           [--nodes 1] [--rates 100,200,...] [--step-seconds 4] [--smoke]

The service runs as in production (`python -m app serve --workers N`, one or more nodes,
real PostgreSQL). A load generator in another process sends open-loop at stepped fixed
rates; latency is from the request's scheduled time to its response, which comes after
the commit of the message and its touchpoint. For each kind: the highest rate with
p99 <= 100 ms (and all requests accepted), then p50/p99 at 50% and 80% of it. Each step is
run up to --attempts times (3) and passes when most runs do; its figures are the medians.

Floors, measured in the same run:
- raw asyncpg: the very statement the ingest issues (compiled from app.ingest.service, a call
  of the ingest's SQL function), in one transaction per message, from the same number of
  concurrent tasks, closed-loop;
- bare ASGI: GET /healthz on the same server, at the same stepped rates;
- bare ASGI + the same SQL: bench/floor_app.py (no framework, no auth, no events) running
  the ingest's statement by raw asyncpg behind the same uvicorn, at the same stepped rates.
  ingest / this floor is what our own code costs; the raw-asyncpg ratio also counts what
  HTTP and the load generator cost on the shared cores."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import multiprocessing
import statistics
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import (
    Node,
    Report,
    admin_token,
    database,
    percentile,
    seed_admin,
    start_node,
    wait_ready,
)

P99_TARGET_MS = 100.0
ATTEMPTS = 3  # runs per step; most must pass (see find_max)
WA_SECRET = "bench-app-secret"
KINDS = ("widget", "telegram", "whatsapp", "vk", "mixed", "new_conversations")


@dataclass
class Target:
    """Everything the load generator needs to build valid requests of each kind."""

    bases: list[str]
    widget_key: str
    visitor_tokens: list[str]
    telegram_channel: int
    telegram_secret: str
    whatsapp_channel: int
    phone_number_id: str
    vk_channel: int = 0
    floor_bases: list[str] | None = None  # the HTTP + SQL floor app (bench.floor_app)


# ------------------------------------------------------------------ setup


async def setup(url: str, nodes: list[Node]) -> Target:
    from tests.telegram.fake_bot_api import TOKEN, FakeBotApi

    await seed_admin(url)
    fake = FakeBotApi()
    await fake.start()
    base = nodes[0].base
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        token = await admin_token(client)
        headers = {"Authorization": f"Bearer {token}"}
        r = await client.post(
            "/api/v1/channels",
            json={"type": "webchat", "name": "bench widget"},
            headers=headers,
        )
        r.raise_for_status()
        widget_key = r.json()["public_key"]
        r = await client.post(
            "/api/v1/channels",
            json={
                "type": "telegram",
                "name": "bench bot",
                "settings": {"mode": "webhook", "api_server": fake.url},
                "credentials": {"bot_token": TOKEN},
            },
            headers=headers,
        )
        r.raise_for_status()
        telegram_channel = r.json()["id"]
        # The secret Telegram would hold: what the service registered with setWebhook.
        telegram_secret = fake.webhook[TOKEN]["secret_token"]
        phone_number_id = "106540352242922"
        r = await client.post(
            "/api/v1/channels",
            json={
                "type": "whatsapp",
                "name": "bench number",
                "credentials": {
                    "phone_number_id": phone_number_id,
                    "access_token": "bench-token",
                    "app_secret": WA_SECRET,
                    "verify_token": "bench-verify",
                },
            },
            headers=headers,
        )
        r.raise_for_status()
        whatsapp_channel = r.json()["id"]
        visitors = []
        for _ in range(200):
            r = await client.post(f"/widget/v1/{widget_key}/sessions", json={})
            r.raise_for_status()
            visitors.append(r.json()["visitor_token"])
        vk_channel = await _vk_channel(client, headers)
    await fake.stop()
    return Target(
        bases=[n.base for n in nodes],
        widget_key=widget_key,
        visitor_tokens=visitors,
        telegram_channel=telegram_channel,
        telegram_secret=telegram_secret,
        whatsapp_channel=whatsapp_channel,
        phone_number_id=phone_number_id,
        vk_channel=vk_channel,
    )


def _fake_vk_in_thread() -> str:
    """The fake VK for the whole run, on a loop of its own: the service asks it users.get
    once per sender and process. Returns its API base."""
    from tests.connectors.vk.fake_vk import serve_fake_vk

    ready, box = threading.Event(), {}

    async def serve() -> None:
        async with serve_fake_vk() as fake:
            box["api"] = fake.api_base
            ready.set()
            await asyncio.Event().wait()

    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()
    if not ready.wait(30):
        raise RuntimeError("the fake VK did not start")
    return box["api"]


async def _vk_channel(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    from tests.connectors.vk.fake_vk import GROUP_ID, SECRET, TOKEN

    r = await client.post(
        "/api/v1/channels",
        json={
            "type": "vk",
            "name": "bench community",
            "settings": {
                "mode": "callback",
                "group_id": GROUP_ID,
                "api_base": _fake_vk_in_thread(),
            },
            "credentials": {"access_token": TOKEN, "secret": SECRET},
        },
        headers=headers,
    )
    r.raise_for_status()
    return int(r.json()["id"])


async def online_operators(base: str, count: int, teams: int) -> None:
    """`count` operators online with room for every lead, spread over `teams` teams (0: no
    teams): what routing chooses from. The bench's channels have no team, so teams only
    make the candidate query and the load counts as wide as in a real team set-up."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        headers = {"Authorization": f"Bearer {await admin_token(client)}"}
        ids = []
        for i in range(count):
            r = await client.post(
                "/api/v1/operators",
                json={
                    "email": f"bench-op{i}@example.com",
                    "name": f"op{i}",
                    "password": "bench-password-123",
                    "max_open_conversations": 10_000,
                    "max_base_size": 1_000_000,
                },
                headers=headers,
            )
            r.raise_for_status()
            ids.append(r.json()["id"])
            r = await client.post(
                f"/api/v1/operators/{ids[-1]}/presence",
                json={"presence": "online"},
                headers=headers,
            )
            r.raise_for_status()
        for t in range(teams):
            r = await client.post(
                "/api/v1/teams",
                json={"name": f"bench team {t}", "member_ids": ids[t::teams]},
                headers=headers,
            )
            r.raise_for_status()


# ------------------------------------------------------------------ requests


def build_request(
    kind: str, target: Target, n: int, run_id: str
) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, path, body, headers) for the n-th request of a kind."""
    sender = n % 200
    if kind == "widget":
        body = json.dumps({"text": f"bench {n}", "client_message_id": f"{run_id}-{n}"})
        headers = {
            "Authorization": f"Bearer {target.visitor_tokens[sender]}",
            "Content-Type": "application/json",
        }
        return "POST", f"/widget/v1/{target.widget_key}/messages", body.encode(), headers
    if kind == "telegram":
        user = 500_000_000 + sender
        update = {
            "update_id": n + 1,
            "message": {
                "message_id": n + 1,
                "from": {"id": user, "is_bot": False, "first_name": f"User {sender}"},
                "chat": {"id": user, "type": "private", "first_name": f"User {sender}"},
                "date": int(time.time()),
                "text": f"bench {run_id} {n}",
            },
        }
        headers = {
            "X-Telegram-Bot-Api-Secret-Token": target.telegram_secret,
            "Content-Type": "application/json",
        }
        path = f"/webhooks/telegram/{target.telegram_channel}"
        return "POST", path, json.dumps(update).encode(), headers
    if kind == "whatsapp":
        wa_id = f"1650555{sender:04d}"
        payload = {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "102290129340398",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": "15550783881",
                                    "phone_number_id": target.phone_number_id,
                                },
                                "contacts": [{"profile": {"name": f"WA {sender}"}, "wa_id": wa_id}],
                                "messages": [
                                    {
                                        "from": wa_id,
                                        "id": f"wamid.{run_id}.{n}",
                                        "timestamp": str(int(time.time())),
                                        "type": "text",
                                        "text": {"body": f"bench {n}"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
        raw = json.dumps(payload).encode()
        signature = hmac.new(WA_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature-256": f"sha256={signature}", "Content-Type": "application/json"}
        return "POST", f"/webhooks/whatsapp/{target.whatsapp_channel}", raw, headers
    if kind == "vk":
        from tests.connectors.vk.fake_vk import GROUP_ID, SECRET

        user = 600_000_000 + sender
        event = {
            "group_id": GROUP_ID,
            "type": "message_new",
            "event_id": f"{run_id}{n:032x}",
            "v": "5.199",
            "secret": SECRET,
            "object": {
                "message": {
                    "date": int(time.time()),
                    "from_id": user,
                    "peer_id": user,
                    "id": n + 1,
                    "conversation_message_id": n + 1,
                    "out": 0,
                    "attachments": [],
                    "fwd_messages": [],
                    "text": f"bench {run_id} {n}",
                },
                "client_info": {"keyboard": True, "inline_keyboard": True},
            },
        }
        headers = {"Content-Type": "application/json"}
        return "POST", f"/webhooks/vk/{target.vk_channel}", json.dumps(event).encode(), headers
    if kind == "new_conversations":
        # A first message from a visitor never seen before: a new contact and conversation,
        # routed (Telegram's webhook: one request, no session to open first).
        user = 700_000_000 + n
        update = {
            "update_id": n + 1,
            "message": {
                "message_id": 1,
                "from": {"id": user, "is_bot": False, "first_name": f"Lead {n}"},
                "chat": {"id": user, "type": "private", "first_name": f"Lead {n}"},
                "date": int(time.time()),
                "text": f"bench {run_id} {n}",
            },
        }
        headers = {
            "X-Telegram-Bot-Api-Secret-Token": target.telegram_secret,
            "Content-Type": "application/json",
        }
        path = f"/webhooks/telegram/{target.telegram_channel}"
        return "POST", path, json.dumps(update).encode(), headers
    if kind == "mixed":
        return build_request(("widget", "telegram", "whatsapp")[n % 3], target, n, run_id)
    if kind == "bare":
        return "GET", "/healthz", b"", {}
    if kind == "http_sql":
        body = json.dumps({"text": f"bench {n}", "client_message_id": f"{run_id}-{n}"})
        return "POST", "/ingest", body.encode(), {"Content-Type": "application/json"}
    raise ValueError(kind)


# ------------------------------------------------------------------ load generator


def _generate(
    kind: str, target: Target, rate: float, seconds: float, run_id: str, first: int
) -> dict[str, Any]:
    """Runs in its own process: open-loop at `rate` for `seconds`."""
    return asyncio.run(_generate_async(kind, target, rate, seconds, run_id, first))


async def _generate_async(
    kind: str, target: Target, rate: float, seconds: float, run_id: str, first: int
) -> dict[str, Any]:
    total = max(1, int(rate * seconds))
    requests = [build_request(kind, target, first + i, run_id) for i in range(total)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=512)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter() + 0.05

        async def one(i: int) -> None:
            method, path, body, headers = requests[i]
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            bases = (
                target.floor_bases if kind == "http_sql" and target.floor_bases else target.bases
            )
            base = bases[i % len(bases)]
            try:
                async with session.request(
                    method, base + path, data=body or None, headers=headers
                ) as resp:
                    await resp.read()
                    status = resp.status
            except aiohttp.ClientError:
                status = 0
            latencies.append((time.perf_counter() - scheduled) * 1000)
            statuses[status] = statuses.get(status, 0) + 1

        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.perf_counter() - start
    return {"latencies": latencies, "statuses": statuses, "elapsed": elapsed, "sent": total}


def run_step(kind: str, target: Target, rate: float, seconds: float, first: int) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        result: dict[str, Any] = pool.apply(
            _generate, (kind, target, rate, seconds, uuid.uuid4().hex[:8], first)
        )
    lat = result["latencies"]
    ok = sum(v for k, v in result["statuses"].items() if 200 <= k < 300)
    return {
        "rate": rate,
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
        "ok": ok,
        "sent": result["sent"],
        "achieved": ok / max(result["elapsed"], 1e-9),
        "statuses": result["statuses"],
    }


def passes(step: dict[str, Any]) -> bool:
    return step["p99"] <= P99_TARGET_MS and step["ok"] == step["sent"]


def find_max(
    kind: str,
    target: Target,
    rates: list[float],
    seconds: float,
    counter: itertools.count[int],
    attempts: int = ATTEMPTS,
) -> tuple[float, list[dict[str, Any]]]:
    """The highest rate whose step passes, stepping up until one fails. A step is up to
    `attempts` runs at its rate and passes when most of them do (best two of three), so one
    stall (a checkpoint, a GC pause, the other core busy) no longer decides it; its p50 and
    p99 are the medians of the runs made."""
    steps = []
    best = 0.0
    need = attempts // 2 + 1
    for rate in rates:
        runs: list[dict[str, Any]] = []
        while len(runs) < attempts:
            runs.append(run_step(kind, target, rate, seconds, next(counter) * 1_000_000))
            passed = sum(passes(r) for r in runs)
            if passed >= need or len(runs) - passed > attempts - need:
                break  # decided: no later run can change the majority
        step = median_step(runs)
        steps.append(step)
        print(
            f"  {kind:9s} {rate:7.0f}/s  p50 {step['p50']:7.1f} ms  p99 {step['p99']:7.1f} ms"
            f"  ok {step['ok']}/{step['sent']}  passed {step['passed']}/{len(runs)}"
        )
        if step["passed"] < need:
            break
        best = rate
    return best, steps


def median_step(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """A step's figures from its runs: medians of p50 and p99, the worst run's answered
    share, how many runs passed on their own, and the runs themselves."""
    worst = min(runs, key=lambda r: r["ok"] / max(r["sent"], 1))
    return {
        "rate": runs[0]["rate"],
        "p50": statistics.median(r["p50"] for r in runs),
        "p99": statistics.median(r["p99"] for r in runs),
        "ok": worst["ok"],
        "sent": worst["sent"],
        "achieved": statistics.median(r["achieved"] for r in runs),
        "passed": sum(passes(r) for r in runs),
        "runs": runs,
    }


# ------------------------------------------------------------------ raw asyncpg floor


async def asyncpg_floor(url: str, channel_id: int, tasks: int, seconds: float) -> float:
    """The ingest's own statement (compiled from app.ingest.service), by raw asyncpg, one
    transaction per message, from `tasks` connections."""
    from bench.floor_app import SQL, ingest_args

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    pool = await asyncpg.create_pool(dsn, min_size=tasks, max_size=tasks)
    run_id = uuid.uuid4().hex[:8]
    counter = itertools.count()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        async with pool.acquire() as conn:
            statement = await conn.prepare(SQL)
            while time.perf_counter() < deadline:
                n = next(counter)
                args = ingest_args(
                    channel_id, f"floor-{run_id}-{n % 200}", f"floor-{run_id}-msg-{n}", f"floor {n}"
                )
                async with conn.transaction():
                    await statement.fetchrow(*args)
                done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    elapsed = time.perf_counter() - start
    await pool.close()
    return done / elapsed


def start_floor_app(url: str, channel_id: int, workers: int) -> tuple[Any, str]:
    """bench.floor_app under uvicorn, as many workers as the service: (process, base)."""
    import os
    import subprocess
    import sys

    from bench.common import ROOT, free_port

    port = free_port()
    env = {**os.environ, "FLOOR_DATABASE_URL": url, "FLOOR_CHANNEL_ID": str(channel_id)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.floor_app:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    return proc, f"http://127.0.0.1:{port}"


async def wait_floor_app(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while True:
            try:
                if (await client.get(base + "/")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the floor app did not start")
            await asyncio.sleep(0.1)


# ------------------------------------------------------------------ main


async def count_rows(url: str) -> tuple[int, int]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        messages = await conn.scalar(text("SELECT count(*) FROM messages"))
        touches = await conn.scalar(text("SELECT count(*) FROM touchpoints WHERE kind = 'message'"))
    await engine.dispose()
    return int(messages or 0), int(touches or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", default=None, help=f"default: {','.join(KINDS)}")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers per node")
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument(
        "--rates", default="100,200,300,400,500,600,700,800,1000,1200,1500,1800,2200,2600,3000"
    )
    parser.add_argument("--step-seconds", type=float, default=4.0)
    parser.add_argument(
        "--attempts", type=int, default=ATTEMPTS, help="runs per step; most must pass"
    )
    parser.add_argument("--floor-tasks", type=int, default=16)
    parser.add_argument("--operators", type=int, default=0, help="operators online")
    parser.add_argument("--teams", type=int, default=0, help="teams the operators are in")
    parser.add_argument(
        "--scenario",
        choices=("capacity", "overload"),
        default="capacity",
        help="overload: 2x the found capacity of --overload-kind for 10 s, then 50%%",
    )
    parser.add_argument("--overload-kind", default="telegram")
    parser.add_argument("--capacity", type=float, default=0, help="skip finding it (msg/s)")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no thresholds")
    parser.add_argument("--output", default="ingest.json")
    args = parser.parse_args()
    if args.smoke:
        args.rates, args.step_seconds, args.attempts = "50,100", 1.0, 1
        args.kinds = args.kinds or "widget,mixed"
    args.kinds = args.kinds or ",".join(KINDS)
    asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    url = await database()
    nodes = [
        start_node(url, workers=args.workers, CHATCENTRE_PUBLIC_URL="http://127.0.0.1")
        for _ in range(args.nodes)
    ]
    try:
        await wait_ready(nodes)
        target = await setup(url, nodes)
        if args.operators:
            await online_operators(nodes[0].base, args.operators, args.teams)
        rates = [float(r) for r in args.rates.split(",")]
        counter = itertools.count(1)
        if args.scenario == "overload":
            await run_overload(args, url, target, rates, counter)
            return
        report = Report(
            f"Ingest ({args.nodes} node(s) x {args.workers} workers, open-loop, "
            f"p99 target {P99_TARGET_MS:.0f} ms)",
            ["endpoint", "max msg/s", "p50 @50%", "p99 @50%", "p50 @80%", "p99 @80%"],
        )
        results: dict[str, Any] = {}
        floor_proc, floor_base = start_floor_app(url, target.telegram_channel, args.workers)
        await wait_floor_app(floor_base)
        target.floor_bases = [floor_base]
        for kind in [*args.kinds.split(","), "bare", "http_sql"]:
            # Warm-up (not recorded): connection pools, prepared statements, caches.
            run_step(kind, target, rates[0], 1.0, next(counter) * 1_000_000)
            best, steps = find_max(kind, target, rates, args.step_seconds, counter, args.attempts)
            label = {"bare": "bare ASGI (floor)", "http_sql": "bare ASGI + same SQL (floor)"}
            row: list[Any] = [label.get(kind, kind), best]
            for share in (0.5, 0.8):
                if best:
                    step = run_step(
                        kind, target, best * share, args.step_seconds, next(counter) * 1_000_000
                    )
                    row += [step["p50"], step["p99"]]
                else:
                    row += ["-", "-"]
            report.rows.append(row)
            results[kind] = {"max": best, "steps": steps}
        floor_proc.terminate()
        floor_proc.wait(15)
        before = await count_rows(url)
        floor = await asyncpg_floor(
            url, target.telegram_channel, args.floor_tasks, max(2.0, args.step_seconds)
        )
        report.rows.append(
            [f"raw asyncpg, same SQL, {args.floor_tasks} tasks (floor)", floor, "-", "-", "-", "-"]
        )
        best_ingest = max(results[k]["max"] for k in args.kinds.split(","))
        report.notes["ingest / raw-asyncpg floor"] = (
            f"{best_ingest / floor:.2f}" if floor else "n/a"
        )
        report.notes["ingest / bare-ASGI floor"] = (
            f"{best_ingest / results['bare']['max']:.2f}" if results["bare"]["max"] else "n/a"
        )
        report.notes["ingest / bare-ASGI-with-same-SQL floor"] = (
            f"{best_ingest / results['http_sql']['max']:.2f}"
            if results["http_sql"]["max"]
            else "n/a"
        )
        if "new_conversations" in results:
            for kind in args.kinds.split(","):
                if kind != "new_conversations" and results[kind]["max"]:
                    report.notes[f"new_conversations / {kind}"] = (
                        f"{results['new_conversations']['max'] / results[kind]['max']:.2f}"
                    )
        report.notes["messages stored / message touchpoints (before floor)"] = before
        report.print()
        print(f"saved {report.save(args.output)}")
    finally:
        for node in nodes:
            node.stop()


async def run_overload(
    args: argparse.Namespace,
    url: str,
    target: Target,
    rates: list[float],
    counter: itertools.count[int],
) -> None:
    from bench.overload import overload

    kind = args.overload_kind
    capacity = args.capacity
    if not capacity:
        run_step(kind, target, rates[0], 1.0, next(counter) * 1_000_000)  # warm-up
        capacity, _ = find_max(kind, target, rates, args.step_seconds, counter, args.attempts)
    seconds = (2.0, 2.0) if args.smoke else (10.0, 10.0)
    result = await overload(url, target, kind, capacity or rates[0], P99_TARGET_MS, seconds=seconds)
    report = Report(
        f"Overload ({args.nodes} node(s) x {args.workers} workers, {kind})",
        ["measure", "value"],
        [[k, v] for k, v in result.items()],
    )
    report.print()
    print(f"saved {report.save(args.output)}")


if __name__ == "__main__":
    main()
