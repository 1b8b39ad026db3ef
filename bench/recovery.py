"""Recovery after a crash: `python -m bench.recovery [--smoke]`.

50 widget visitors send 1,500 messages at 150/s (open-loop), each resent with the widget's
own backoff (1 s x 2^n with jitter, capped at 8 s) until it gets a 2xx, clients giving up
on an attempt after 10 s. After 5 s the service (`serve --workers 2`) is killed with
SIGKILL, every process of it, and started again at once on the same port and database.

Reported: the seconds until the new service answers /readyz (and what it waits for: the
schema check of `serve`, then each worker's startup: the bus, the pool warm-up), the
seconds from then until the last message is stored (the drain), attempts answered 503,
attempts with no answer, and exactly-once: messages stored once, lost (never stored) and
duplicated (stored twice), which must be 1,500, 0 and 0."""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import signal
import time
import uuid
from typing import Any

import aiohttp
import httpx
import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.common import Report, database, start_node, wait_ready

BACKOFF_CAP = 8.0
ATTEMPT_TIMEOUT = 10.0


def _clients(base: str, key: str, tokens: list[str], total: int, rate: float, run: str) -> Any:
    return asyncio.run(_clients_async(base, key, tokens, total, rate, run))


async def _clients_async(
    base: str, key: str, tokens: list[str], total: int, rate: float, run: str
) -> dict[str, Any]:
    url = f"{base}/widget/v1/{key}/messages"
    statuses: dict[int, int] = {}
    done_at: list[float] = []
    timeout = aiohttp.ClientTimeout(total=ATTEMPT_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=2048, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        start = time.time() + 0.05

        async def message(n: int) -> None:
            await asyncio.sleep(max(0.0, start + n / rate - time.time()))
            body = json.dumps({"text": f"bench {run} {n}", "client_message_id": f"{run}-{n}"})
            headers = {
                "Authorization": f"Bearer {tokens[n % len(tokens)]}",
                "Content-Type": "application/json",
            }
            attempt = 0
            while True:
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        await resp.read()
                        status = resp.status
                except TimeoutError:
                    status = -1  # no answer within ATTEMPT_TIMEOUT: what must not happen
                except aiohttp.ClientError:
                    status = 0  # refused or cut: the service is down
                statuses[status] = statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    done_at.append(time.time())
                    return
                # The widget's backoff: 1 s x 2^n, jitter, capped.
                delay = min(BACKOFF_CAP, 2.0**attempt) * random.uniform(0.5, 1.0)  # noqa: S311
                attempt += 1
                await asyncio.sleep(delay)

        await asyncio.gather(*(message(n) for n in range(total)))
    return {"statuses": statuses, "last_done": max(done_at), "start": start}


async def run(args: argparse.Namespace) -> None:
    url = await database()
    node = start_node(url, workers=args.workers)
    port = node.port
    try:
        await wait_ready([node])
        from bench.common import admin_token, seed_admin

        await seed_admin(url)
        async with httpx.AsyncClient(base_url=node.base, timeout=30) as client:
            token = await admin_token(client)
            r = await client.post(
                "/api/v1/channels",
                json={"type": "webchat", "name": "bench widget"},
                headers={"Authorization": f"Bearer {token}"},
            )
            r.raise_for_status()
            key = r.json()["public_key"]
            tokens = []
            for _ in range(args.visitors):
                r = await client.post(f"/widget/v1/{key}/sessions", json={})
                r.raise_for_status()
                tokens.append(r.json()["visitor_token"])
        run_id = uuid.uuid4().hex[:8]
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            pending = pool.apply_async(
                _clients, (node.base, key, tokens, args.messages, args.rate, run_id)
            )
            await asyncio.sleep(args.kill_after)
            for pid in node.pids():
                psutil.Process(pid).send_signal(signal.SIGKILL)
            node.proc.wait()
            killed_at = time.time()
            node = start_node(url, workers=args.workers, port=port)
            await wait_ready([node], timeout=120)
            ready_at = time.time()
            result = pending.get()
        counts = await _stored(url, run_id)
        report = Report(
            f"Recovery ({args.workers} workers, {args.visitors} visitors, "
            f"{args.messages} messages at {args.rate:.0f}/s, SIGKILL after {args.kill_after} s)",
            ["measure", "value"],
            [
                ["seconds to /readyz after the restart", ready_at - killed_at],
                ["seconds from ready to the last message stored", result["last_done"] - ready_at],
                [
                    "attempts by answer (0: refused while down, -1: none in 10 s)",
                    result["statuses"],
                ],
                ["messages stored once", sum(1 for c in counts.values() if c == 1)],
                ["lost", args.messages - len(counts)],
                ["duplicated", sum(c - 1 for c in counts.values() if c > 1)],
            ],
        )
        report.print()
        print(f"saved {report.save(args.output)}")
    finally:
        node.stop()


async def _stored(url: str, run_id: str) -> dict[str, int]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT text, count(*) FROM messages WHERE text LIKE :p GROUP BY text"),
            {"p": f"bench {run_id} %"},
        )
        found = {r[0]: int(r[1]) for r in rows}
    await engine.dispose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=150)
    parser.add_argument("--kill-after", type=float, default=5.0)
    parser.add_argument("--smoke", action="store_true", help="a few seconds")
    parser.add_argument("--output", default="recovery.json")
    args = parser.parse_args()
    if args.smoke:
        args.visitors, args.messages, args.rate, args.kill_after = 10, 100, 50, 1.0
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
