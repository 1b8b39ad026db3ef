"""The fan-out's send path in process: CPU per fan-out pass to 1,010 sockets (10 teams x 100
consoles + 10 admins, as `bench.fanout --audience teams`), through the sockets' queues and
writer tasks (Starlette's send_text, uvicorn's ASGI send, websockets' framing: the path
before issue 22, still the fallback) against the hub's Outbox (each frame built once,
written straight to the transports).

    python -m bench.fanout_send [--per-team 100] [--events 3] [--passes 300]

A real uvicorn server (the production WebSocket protocol, compression off) in this
process, the hub's own Connection, writer and Outbox; the clients in a process of their
own, reading and discarding. Each pass: --events events, each to one random team's
consoles and the admins. CPU time of this process (user + system: the kernel's loopback
delivery of each write is in it), so other load on the machine matters little."""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from app.cli import WS_PROTOCOL
from app.realtime.hub import Connection, Hub, Outbox, encode
from app.realtime.wire import ProtocolMiddleware, protocol_of
from bench.common import free_port


def _clients(port: int, n: int) -> None:
    import websockets

    async def one() -> None:
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws", max_queue=None, compression=None
        ) as ws:
            async for _ in ws:
                pass

    async def main() -> None:
        tasks = []
        for i in range(n):
            tasks.append(asyncio.create_task(one()))
            if i % 50 == 0:
                await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)

    asyncio.run(main())


def _event(i: int) -> dict[str, Any]:
    """About the size of a widget message.created event with its conversation."""
    return {
        "type": "message.created",
        "data": {"id": i, "conversation_id": 42, "text": "hello, what does delivery cost?"},
        "conversation": {"id": 42, "team_id": 3, "assignee_id": None, "status": "open"},
        "pad": "x" * 900,
    }


async def run(args: argparse.Namespace) -> None:
    conns: list[Connection] = []

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        conn = Connection(ws=ws, kind="operator", wire=protocol_of(ws.scope))
        conn.writer = asyncio.create_task(Hub._write(None, conn))  # type: ignore[arg-type]
        conns.append(conn)
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass

    app = ProtocolMiddleware(Starlette(routes=[WebSocketRoute("/ws", endpoint)]))
    port = free_port()
    config = uvicorn.Config(
        app, port=port, ws=WS_PROTOCOL, ws_per_message_deflate=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    teams_n, admins_n = 10, 10
    total = teams_n * args.per_team + admins_n
    clients = multiprocessing.get_context("spawn").Process(
        target=_clients, args=(port, total), daemon=True
    )
    clients.start()
    while len(conns) < total:  # noqa: ASYNC110 (the server's own handlers fill it)
        await asyncio.sleep(0.1)
    admins = conns[:admins_n]
    teams = [conns[admins_n + t * args.per_team :][: args.per_team] for t in range(teams_n)]
    rnd = random.Random(1)  # noqa: S311 (which team gets an event)

    async def drained() -> None:
        while any(c.sending or not c.queue.empty() for c in conns):  # noqa: ASYNC110
            await asyncio.sleep(0)

    async def queued() -> None:
        for _ in range(args.events):
            payload = encode(_event(rnd.randrange(10**6)))
            for conn in [*teams[rnd.randrange(teams_n)], *admins]:
                conn.push(payload)
        await drained()

    async def direct() -> None:
        out = Outbox()
        for _ in range(args.events):
            payload = encode(_event(rnd.randrange(10**6)))
            out.add(teams[rnd.randrange(teams_n)], payload)
            out.add(admins, payload)
        out.deliver()
        await drained()

    paths: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("queues + writers (before)", queued),
        ("Outbox, frames written once", direct),
    ]
    deliveries = args.events * (args.per_team + admins_n)
    print(f"{total} sockets, {args.events} events per pass, {deliveries} deliveries per pass")
    for name, one_pass in paths * 2:  # alternated, twice
        await drained()
        started = time.process_time()
        for _ in range(args.passes):
            await one_pass()
            await asyncio.sleep(0.001)
        cpu = (time.process_time() - started) / args.passes
        print(
            f"  {name:30s} {cpu * 1000:6.2f} ms CPU per pass, "
            f"{cpu / deliveries * 1e6:5.2f} us per delivery"
        )
    clients.kill()
    server.should_exit = True
    await serving


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-team", type=int, default=100)
    parser.add_argument("--events", type=int, default=3)
    parser.add_argument("--passes", type=int, default=300)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
