"""Outbound: sends/s through the outbox dispatcher to a local fake Telegram Bot API, with no
limits and with Telegram's limits, and enqueue-to-send latency.

    python -m bench.outbound [--replies 3000] [--chats 300] [--rate 200] [--seconds 10]
                             [--limited-replies 240] [--limited-chats 30] [--workers 2] [--smoke]

Setup: a fake Bot API (tests/telegram/fake_bot_api.py, extended to note the wall-clock
receipt time of every sendMessage) in a process of its own; a telegram channel created
through POST /api/v1/channels with settings.api_server = the fake (webhook mode, so the
conversations are opened through the real Telegram webhook, one chat each). Replies are
queued through the real API (POST /api/v1/conversations/{id}/messages) by a load process,
and go out through the dispatcher and the Telegram connector (aiogram).

(a) no limits (channel settings rate_per_account / rate_per_chat = null):
  - drain: N replies are queued on a node that runs no workers; then a node is started as in
    production (`python -m app serve`, which runs the dispatchers) and drains them: sends/s
    at the fake between the first and the last receipt.
  - paced: replies posted open-loop at --rate on that node for --seconds; enqueue-to-send is
    the fake's receipt time minus the message's created_at in the database.
(b) Telegram-like limits (the connector's defaults: 30/s per bot, 1/s per chat; the null
  overrides removed): a burst of replies over a few chats; the maxima of sends in any
  1-second window (sliding, over receipt times) per bot and per chat are printed.

Floor, in the same run: the fake's raw capacity for sendMessage from one process with a
plain aiohttp client (64 keep-alive connections, closed loop), and, for reference, with a
new HTTP session per call as the connector opens one."""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import multiprocessing
import time
import uuid
from collections import defaultdict
from typing import Any

import aiohttp
import asyncpg
import httpx
import orjson

from bench.common import (
    Report,
    admin_token,
    percentile,
    seed_admin,
    start_node,
    wait_ready,
)
from bench.wsload import own_database, unlimited

# ------------------------------------------------------------------ the fake provider


def run_fake(urls: Any, stop: Any) -> None:
    """Process entry: the fake Bot API, with /_bench/* routes for the bench to read it."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    asyncio.run(_run_fake(urls, stop))


async def _run_fake(urls: Any, stop: Any) -> None:
    from aiohttp import web

    from tests.telegram.fake_bot_api import FakeBotApi

    class RecordingBotApi(FakeBotApi):
        """Notes (chat id, text, wall-clock time) of every sendMessage, keeps no call log."""

        def __init__(self) -> None:
            super().__init__()
            self.sends: list[tuple[int, str, float]] = []

        async def _m_sendMessage(self, token: str, params: dict[str, Any]) -> Any:
            self.sends.append((int(params["chat_id"]), str(params["text"]), time.time()))
            return self._message(params, text=params["text"])

        async def start(self) -> None:
            app = web.Application()
            app.router.add_get("/_bench/webhook", self._bench_webhook)
            app.router.add_get("/_bench/sends", self._bench_sends)
            app.router.add_post("/_bench/reset", self._bench_reset)
            app.router.add_route("*", "/bot{token}/{method}", self._method)
            self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

        async def _method(self, request: web.Request) -> web.StreamResponse:
            response = await super()._method(request)
            self.calls.clear()  # the bench reads `sends`; do not grow a call log
            return response

        async def _bench_webhook(self, request: web.Request) -> web.StreamResponse:
            return web.json_response(self.webhook)

        async def _bench_sends(self, request: web.Request) -> web.StreamResponse:
            return web.Response(body=orjson.dumps(self.sends), content_type="application/json")

        async def _bench_reset(self, request: web.Request) -> web.StreamResponse:
            self.sends.clear()
            return web.json_response({})

    fake = RecordingBotApi()
    await fake.start()
    urls.put(fake.url)
    while not stop.is_set():  # noqa: ASYNC110 (a multiprocessing Event)
        await asyncio.sleep(0.1)
    await fake.stop()


# ------------------------------------------------------------------ load processes


def post_replies(
    base: str, token: str, items: list[tuple[int, str]], rate: float | None
) -> dict[str, Any]:
    """Process entry: POST each (conversation id, text) as a reply, open-loop at `rate`, or
    as fast as 32 concurrent requests go when rate is None (queueing a backlog)."""
    return asyncio.run(_post_replies(base, token, items, rate))


async def _post_replies(
    base: str, token: str, items: list[tuple[int, str]], rate: float | None
) -> dict[str, Any]:
    statuses: dict[int, int] = defaultdict(int)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    gate = asyncio.Semaphore(32 if rate is None else 100_000)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:
        start = time.monotonic() + 0.05

        async def one(i: int) -> None:
            conv, text = items[i]
            if rate is not None:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            async with gate:
                try:
                    async with session.post(
                        f"{base}/api/v1/conversations/{conv}/messages",
                        data=orjson.dumps({"text": text}),
                        headers=headers,
                    ) as resp:
                        await resp.read()
                        statuses[resp.status] += 1
                except aiohttp.ClientError:
                    statuses[0] += 1

        await asyncio.gather(*(one(i) for i in range(len(items))))
        elapsed = time.monotonic() - start
    return {"statuses": dict(statuses), "elapsed": elapsed}


def raw_capacity(url: str, token: str, seconds: float, session_per_call: bool) -> float:
    """Process entry: sendMessage calls/s a plain aiohttp client gets from the fake."""
    return asyncio.run(_raw_capacity(url, token, seconds, session_per_call))


async def _raw_capacity(url: str, token: str, seconds: float, session_per_call: bool) -> float:
    endpoint = f"{url}/bot{token}/sendMessage"
    done = 0
    deadline = time.monotonic() + seconds

    async def call(session: aiohttp.ClientSession, n: int) -> None:
        form = aiohttp.FormData({"chat_id": str(900_000 + n % 1000), "text": f"floor {n}"})
        async with session.post(endpoint, data=form) as resp:
            await resp.read()

    async def worker(w: int, shared: aiohttp.ClientSession) -> None:
        nonlocal done
        n = w
        while time.monotonic() < deadline:
            if session_per_call:
                async with aiohttp.ClientSession() as own:
                    await call(own, n)
            else:
                await call(shared, n)
            done += 1
            n += 64

    start = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as shared:
        await asyncio.gather(*(worker(w, shared) for w in range(64)))
    return done / (time.monotonic() - start)


def in_process(fn: Any, *args: Any) -> Any:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


async def run_in_process(fn: Any, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, in_process, fn, *args)


# ------------------------------------------------------------------ measuring


async def fake_sends(fake_url: str) -> list[tuple[int, str, float]]:
    async with httpx.AsyncClient(timeout=30) as client:
        return [tuple(s) for s in (await client.get(f"{fake_url}/_bench/sends")).json()]


async def wait_sends(fake_url: str, marker: str, expected: int, timeout: float) -> list[Any]:
    """Sends whose text carries `marker`, once `expected` arrived (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        mine = [s for s in await fake_sends(fake_url) if marker in s[1]]
        if len(mine) >= expected or time.monotonic() > deadline:
            return mine
        await asyncio.sleep(0.25)


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Most events in any half-open window [t, t + window) over sorted times."""
    times = sorted(times)
    best = 0
    for i, t in enumerate(times):
        best = max(best, bisect.bisect_left(times, t + window) - i)
    return best


async def latencies(dsn: str, sends: list[tuple[int, str, float]]) -> list[float]:
    """Receipt at the fake minus the message's created_at, in ms (texts are unique)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT text, extract(epoch FROM created_at)::float8 AS at FROM messages "
            "WHERE direction = 'outbound' AND text = ANY($1::text[])",
            [s[1] for s in sends],
        )
    finally:
        await conn.close()
    created = {r["text"]: r["at"] for r in rows}
    return [(t - created[text]) * 1000 for _, text, t in sends if text in created]


def summarise(name: str, sends: list[tuple[int, str, float]], lat: list[float]) -> dict[str, Any]:
    times = sorted(s[2] for s in sends)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    per_chat: dict[int, list[float]] = defaultdict(list)
    for chat, _, t in sends:
        per_chat[chat].append(t)
    return {
        "case": name,
        "sends": len(sends),
        "sends_per_s": (len(times) - 1) / span if span > 0 else 0.0,
        "p50": percentile(lat, 50),
        "p99": percentile(lat, 99),
        "max_per_bot_1s": max_in_window(times),
        "max_per_chat_1s": max((max_in_window(v) for v in per_chat.values()), default=0),
    }


# ------------------------------------------------------------------ main


async def run(args: argparse.Namespace) -> None:
    from tests.telegram.fake_bot_api import TOKEN

    url = await own_database("chatcentre_bench_outbound")
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    await seed_admin(url)
    mp = multiprocessing.get_context("spawn")
    urls, stop = mp.Queue(), mp.Event()
    fake_proc = mp.Process(target=run_fake, args=(urls, stop))
    fake_proc.start()
    loop = asyncio.get_running_loop()
    fake_url: str = await loop.run_in_executor(None, urls.get, True, 60)
    public = {"CHATCENTRE_PUBLIC_URL": "http://127.0.0.1", **unlimited()}
    api_node = start_node(url, workers=args.workers, CHATCENTRE_RUN_WORKERS="false", **public)
    node = None
    results: list[dict[str, Any]] = []
    try:
        await wait_ready([api_node])
        # ---- setup: the channel, and one conversation per chat through the webhook
        async with httpx.AsyncClient(base_url=api_node.base, timeout=60) as client:
            token = await admin_token(client)
            headers = {"Authorization": f"Bearer {token}"}
            r = await client.post(
                "/api/v1/channels",
                json={
                    "type": "telegram",
                    "name": "bench bot",
                    "settings": {
                        "mode": "webhook",
                        "api_server": fake_url,
                        "rate_per_account": None,  # explicitly: no limits
                        "rate_per_chat": None,
                    },
                    "credentials": {"bot_token": TOKEN},
                },
                headers=headers,
            )
            r.raise_for_status()
            channel = r.json()["id"]
            print(f"  channel {channel} settings: {r.json()['settings']}")
            secret = (await client.get(f"{fake_url}/_bench/webhook")).json()[TOKEN]["secret_token"]
            chats = max(args.chats, args.limited_chats)
            for i in range(chats):
                user = 600_000_000 + i
                update = {
                    "update_id": i + 1,
                    "message": {
                        "message_id": i + 1,
                        "from": {"id": user, "is_bot": False, "first_name": f"U{i}"},
                        "chat": {"id": user, "type": "private", "first_name": f"U{i}"},
                        "date": int(time.time()),
                        "text": "hello",
                    },
                }
                r = await client.post(
                    f"/webhooks/telegram/{channel}",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": secret},
                )
                r.raise_for_status()
        conn = await asyncpg.connect(dsn)
        convs = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM conversations WHERE channel_account_id = $1 ORDER BY id", channel
            )
        ]
        await conn.close()
        run_id = uuid.uuid4().hex[:6]

        # ---- floor: the fake's raw capacity
        floor = await run_in_process(raw_capacity, fake_url, TOKEN, args.floor_seconds, False)
        floor_fresh = await run_in_process(raw_capacity, fake_url, TOKEN, args.floor_seconds, True)
        print(f"  floor: {floor:.0f} sendMessage/s (keep-alive), {floor_fresh:.0f}/s (new session)")

        # ---- (a) drain: queue a backlog with no dispatcher running, then start a node
        marker = f"d{run_id}-"
        items = [(convs[i % args.chats], f"{marker}{i}") for i in range(args.replies)]
        t0 = time.monotonic()
        queued = await run_in_process(post_replies, api_node.base, token, items, None)
        print(
            f"  queued {args.replies} replies in {time.monotonic() - t0:.1f} s: "
            f"{queued['statuses']}"
        )
        api_node.stop()
        node = start_node(url, workers=args.workers, **public)
        await wait_ready([node])
        sends = await wait_sends(fake_url, marker, args.replies, args.timeout)
        drain = summarise("(a) no limits: backlog drain", sends, [])
        drain["p50"] = drain["p99"] = None  # queue wait behind the backlog, not latency
        results.append(drain)
        print(f"  drain: {drain['sends']} sends, {drain['sends_per_s']:.0f}/s")

        # ---- (a) paced: open-loop at --rate
        marker = f"p{run_id}-"
        total = int(args.rate * args.seconds)
        items = [(convs[i % args.chats], f"{marker}{i}") for i in range(total)]
        posted = await run_in_process(post_replies, node.base, token, items, args.rate)
        sends = await wait_sends(fake_url, marker, total, args.timeout)
        paced = summarise(
            f"(a) no limits: paced {args.rate:g}/s", sends, await latencies(dsn, sends)
        )
        paced["post_statuses"] = posted["statuses"]
        results.append(paced)
        print(f"  paced: {paced['sends']} sends, p99 {paced['p99']:.1f} ms")

        # ---- (b) Telegram's limits: drop the overrides, the connector's defaults apply
        async with httpx.AsyncClient(base_url=node.base, timeout=60) as client:
            r = await client.patch(
                f"/api/v1/channels/{channel}",
                json={"settings": {"rate_per_account": None, "rate_per_chat": None}},
                headers=headers,
            )
            r.raise_for_status()
            assert "rate_per_account" not in r.json()["settings"], r.json()["settings"]
        marker = f"l{run_id}-"
        items = [
            (convs[i % args.limited_chats], f"{marker}{i}") for i in range(args.limited_replies)
        ]
        await run_in_process(post_replies, node.base, token, items, None)
        sends = await wait_sends(fake_url, marker, args.limited_replies, args.timeout)
        limited = summarise(
            "(b) Telegram limits 30/s per bot, 1/s per chat", sends, await latencies(dsn, sends)
        )
        results.append(limited)
        print(
            f"  limited: {limited['sends']} sends, {limited['sends_per_s']:.1f}/s, "
            f"max/bot/1s {limited['max_per_bot_1s']}, max/chat/1s {limited['max_per_chat_1s']}"
        )
    finally:
        api_node.stop()
        if node is not None:
            node.stop()
        stop.set()
        fake_proc.join(10)

    expected = {
        "(a) no limits: backlog drain": args.replies,
        f"(a) no limits: paced {args.rate:g}/s": int(args.rate * args.seconds),
    }
    report = Report(
        f"Outbound via the dispatcher to a fake Telegram Bot API (1 node x {args.workers} "
        f"workers, dispatcher concurrency per process "
        f"{args.dispatcher_concurrency or 'default'})",
        [
            "case",
            "sent / queued",
            "sends/s",
            "p50 ms enqueue->send",
            "p99 ms enqueue->send",
            "max/bot in 1 s",
            "max/chat in 1 s",
            "sends/s / floor",
        ],
    )
    for r in results:
        report.rows.append(
            [
                r["case"],
                f"{r['sends']}/{expected.get(r['case'], args.limited_replies)}",
                round(r["sends_per_s"], 1),
                None if r["p50"] is None else round(r["p50"], 1),
                None if r["p99"] is None else round(r["p99"], 1),
                r["max_per_bot_1s"],
                r["max_per_chat_1s"],
                f"{r['sends_per_s'] / floor:.3f}",
            ]
        )
    report.rows.append(
        ["floor: plain aiohttp, 64 keep-alive conns", "", round(floor, 1), "", "", "", "", 1.0]
    )
    report.rows.append(
        [
            "floor: plain aiohttp, new session per call",
            "",
            round(floor_fresh, 1),
            "",
            "",
            "",
            "",
            f"{floor_fresh / floor:.3f}",
        ]
    )
    limited_ok = results[-1]["max_per_bot_1s"] <= 30 and results[-1]["max_per_chat_1s"] <= 1
    report.notes = {
        "conversations": f"{args.chats} for (a), {args.limited_chats} for (b)",
        "limits respected in (b)": limited_ok,
    }
    report.print()
    report.notes["cases"] = results
    print(f"written {report.save(args.output)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=3000, help="(a) backlog size")
    parser.add_argument("--chats", type=int, default=300, help="(a) conversations")
    parser.add_argument("--rate", type=float, default=200.0, help="(a) paced replies/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="(a) paced duration")
    parser.add_argument("--limited-replies", type=int, default=240)
    parser.add_argument("--limited-chats", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dispatcher-concurrency", type=int, default=0, help="0: the default")
    parser.add_argument("--floor-seconds", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=120.0, help="wait for sends, s")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no thresholds")
    parser.add_argument("--output", default="outbound.json")
    args = parser.parse_args()
    if args.smoke:
        args.replies, args.chats, args.rate, args.seconds = 60, 20, 40.0, 1.0
        args.limited_replies, args.limited_chats, args.floor_seconds = 12, 4, 0.5
        args.timeout = 30.0
        args.workers = 1  # one worker starts faster
        if args.output == "outbound.json":
            args.output = "outbound-smoke.json"
    if args.dispatcher_concurrency:
        import os

        os.environ["CHATCENTRE_DISPATCHER_CONCURRENCY"] = str(args.dispatcher_concurrency)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
