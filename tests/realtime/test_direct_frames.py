"""The fan-out's fast path (app/realtime/wire.py): frames built once and written straight to
each socket's transport, over a real uvicorn server with the production WebSocket protocol
and real websocket clients. These fail if uvicorn's internals the fast path relies on
change (it would then not be taken, or its bytes would differ from uvicorn's own)."""

import asyncio
import contextlib
import socket
from typing import Any

import orjson
import pytest
import websockets
from prometheus_client import REGISTRY
from websockets.server import ServerProtocol

from app.config import Settings
from app.realtime.hub import CLOSE_BACKLOG, Connection, Hub, Outbox, frame
from app.realtime.wire import Protocol, text_frame
from tests.conftest import LiveServer, Running, create_operator, serve_app, truncate_all
from tests.helpers import create_webchat, recv_event, visitor_post, visitor_session
from tests.routing.test_routing import operator_id, team_channel


def delivered(path: str) -> float:
    return REGISTRY.get_sample_value("chatcentre_fanout_deliveries_total", {"path": path}) or 0.0


def hub_of(live: LiveServer) -> Hub:
    assert live.app is not None
    hub: Hub = live.app.state.hub
    return hub


async def console(live: LiveServer, token: str, **options: Any) -> websockets.ClientConnection:
    ws = await websockets.connect(f"{live.ws_url}/api/v1/ws?token={token}", **options)
    while (await recv_event(ws))["type"] != "ready":
        pass
    return ws


async def quiet(*sockets: websockets.ClientConnection) -> None:
    """Reads until none has had anything for a while (the consoles' presence events)."""
    for ws in sockets:
        with contextlib.suppress(TimeoutError):
            while True:
                await recv_event(ws, 0.5)


def server_side(live: LiveServer, operator: int) -> Connection:
    (conn,) = [c for c in hub_of(live).connections if c.operator_id == operator]
    return conn


@pytest.mark.parametrize("size", [10, 125, 126, 65535, 65536, 200_000])
def test_frame_bytes_are_what_websockets_would_write(size: int) -> None:
    """Every length encoding (7-bit, 16-bit, 64-bit), and non-ASCII text."""
    text = ("é" + "x" * size)[:size]
    server = ServerProtocol()
    server.state = server.state.OPEN
    server.send_text(text.encode())
    assert text_frame(text) == b"".join(server.data_to_send())


async def _console_gets_posts(live: LiveServer) -> Connection:
    """An admin console gets 15 posted messages, in order; returns its server side."""
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")

    key = (await create_webchat(live.client, admin))["public_key"]
    token = (await visitor_session(live.client, key))["visitor_token"]
    ws = await console(live, admin)
    conn = server_side(live, await operator_id(run, admin))
    texts = [f"m{i}" for i in range(15)]
    for text in texts:
        r = await visitor_post(live.client, key, token, text)
        assert r.status_code == 201, r.text
    seen: list[str] = []
    while len(seen) < len(texts):
        event = await recv_event(ws)
        if event["type"] == "message.created":
            seen.append(event["data"]["text"])
    await ws.close()
    assert seen == texts
    return conn


async def test_the_fast_path_is_taken_and_frames_arrive_in_order(live: LiveServer) -> None:
    direct = delivered("direct")
    conn = await _console_gets_posts(live)
    assert type(conn.wire) is Protocol  # the configured protocol is the one expected
    assert delivered("direct") > direct


async def test_with_compression_the_normal_send_path_is_used(settings: Settings) -> None:
    """Compressed frames differ per socket: the fast path must step aside."""
    direct, queued = delivered("direct"), delivered("queued")
    try:
        async with serve_app(settings.model_copy(update={"ws_compression": True})) as live:
            conn = await _console_gets_posts(live)
    finally:
        await truncate_all(settings.database_url or "")
    assert conn.wire is not None and conn.wire.conn.extensions  # deflate was negotiated
    assert delivered("direct") == direct
    assert delivered("queued") > queued


async def _slow_console(live: LiveServer) -> tuple[websockets.ClientConnection, Connection]:
    """An admin console whose client does not read (a tiny receive buffer, few frames
    queued), and whose server socket has a tiny send buffer: the server's transport is
    paused after a few frames, as with a slow client on a slow link."""
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "slow@example.com", "admin")
    port = int(live.ws_url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    ws = await console(live, admin, sock=sock, max_queue=2)
    conn = server_side(live, await operator_id(run, admin))
    assert conn.wire is not None
    conn.wire.transport.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
    )
    conn.wire.transport.set_write_buffer_limits(high=8192)
    await quiet(ws)
    return ws, conn


def _event(n: int) -> str:
    return orjson.dumps({"type": "test", "n": n, "pad": "x" * 2000}).decode()


async def _numbers(ws: websockets.ClientConnection) -> list[int]:
    """The events' numbers until the socket closes."""
    seen: list[int] = []
    try:
        while True:
            seen.append((await recv_event(ws, 10))["n"])
    except websockets.ConnectionClosed:
        return seen


async def test_a_slow_socket_gets_everything_in_order_across_both_paths(
    live: LiveServer,
) -> None:
    ws, conn = await _slow_console(live)
    direct, queued = delivered("direct"), delivered("queued")
    n = 0
    for size in [1, 2, 3] * 100:  # passes of one to three events
        out = Outbox()
        for _ in range(size):
            out.add([conn], _event(n))
            n += 1
        out.deliver()
        await asyncio.sleep(0)
    assert delivered("direct") > direct  # the first frames went straight out
    assert delivered("queued") > queued  # then the transport paused: the writer's queue
    assert [(await recv_event(ws, 10))["n"] for _ in range(n)] == list(range(n))
    await ws.close()


async def test_a_socket_too_slow_for_its_backlog_is_closed(live: LiveServer) -> None:
    ws, conn = await _slow_console(live)
    for n in range(1500):  # more than its queue holds
        out = Outbox()
        out.add([conn], _event(n))
        out.deliver()
    seen = await _numbers(ws)
    assert ws.close_code == CLOSE_BACKLOG
    assert seen == list(range(len(seen)))  # what got through: in order, nothing skipped
    assert len(seen) < 1500


async def test_sockets_with_the_same_events_share_one_frame(live: LiveServer) -> None:
    """One frame per socket per pass, with exactly that socket's events, in order."""
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    tokens = [await create_operator(run, f"op{i}@example.com", "operator") for i in range(3)]
    sockets = [await console(live, t) for t in tokens]
    a, b, c = [server_side(live, await operator_id(run, t)) for t in tokens]
    await quiet(*sockets)
    events = [orjson.dumps({"type": "test", "n": i}).decode() for i in range(3)]
    out = Outbox()
    out.add([a, b], events[0])
    out.add([c], events[1])
    out.add([a, b], events[2])
    out.deliver()
    got = [await _test_frames(ws) for ws in sockets]
    assert got == [[frame([events[0], events[2]])]] * 2 + [[events[1]]]


async def _test_frames(ws: websockets.ClientConnection) -> list[str | bytes]:
    """The frames carrying test events until the socket is quiet (others: presence)."""
    found = []
    with contextlib.suppress(TimeoutError):
        while True:
            text = await asyncio.wait_for(ws.recv(), 0.5)
            if b'"type":"test"' in (text if isinstance(text, bytes) else text.encode()):
                found.append(text)
    await ws.close()
    return found


async def test_bursts_to_two_teams_reach_their_own_consoles_only(live: LiveServer) -> None:
    """Concurrent posts to two manual-routing teams: fan-out passes mix both teams' events,
    each team's consoles share frames, and none gets the other team's."""
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    teams = {}
    for name in ("Sales", "Support"):
        tokens = [
            await create_operator(run, f"{name}{i}@example.com", "operator") for i in range(2)
        ]
        ids = [await operator_id(run, t) for t in tokens]
        teams[name] = (tokens, await team_channel(run, admin, ids, name, strategy="manual"))
    before = delivered("direct")
    consoles = {
        name: [await console(live, t) for t in tokens] for name, (tokens, _) in teams.items()
    }
    admin_ws = await console(live, admin)

    async def post_all(name: str, key: str) -> None:
        visitor = (await visitor_session(live.client, key))["visitor_token"]
        for i in range(10):
            r = await visitor_post(live.client, key, visitor, f"{name} {i}")
            assert r.status_code == 201, r.text

    await asyncio.gather(*(post_all(name, key) for name, (_, key) in teams.items()))

    async def texts(ws: websockets.ClientConnection) -> list[str]:
        seen: list[str] = []
        while True:
            try:
                event = await recv_event(ws, 1.5)
            except TimeoutError:
                return seen
            if event["type"] == "message.created":
                seen.append(event["data"]["text"])

    for name, wss in consoles.items():
        for ws in wss:
            assert await texts(ws) == [f"{name} {i}" for i in range(10)]
    assert sorted(await texts(admin_ws)) == sorted(
        f"{name} {i}" for name in teams for i in range(10)
    )
    assert delivered("direct") > before
