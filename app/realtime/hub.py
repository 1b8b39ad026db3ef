"""Fans bus events out to the WebSockets open on this process.

Each event is read from the database once per process, and encoded to JSON text once,
however many sockets receive it. A fan-out pass gives each socket one frame of its events
({"type": "batch", "events": [...]} when several); sockets that get the same events share
the frame's bytes, built once and written straight to each transport when the socket can
take them now (wire.py). Otherwise the events join the socket's own bounded queue, which
its writer task sends (joining what piled up into one frame): a slow client cannot hold
up the others, and when its queue overflows it is closed and catches up on reconnect."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import WebSocket

from app.attachments.service import visitor_links
from app.core.context import AppContext
from app.core.metrics import FANOUT_DELIVERIES, WEBSOCKETS
from app.core.session import OPERATOR_SESSIONS_REVOKED, VISITOR_SESSIONS_REVOKED, Event
from app.inbox import queries as inbox_queries
from app.inbox.models import DeliveryState, Direction, Message
from app.inbox.schemas import ConversationRead, to_widget_message
from app.realtime.typing import OPERATOR_TYPING, VISITOR_TYPING
from app.realtime.wire import Protocol, can_take, protocol_of, text_frame

log = logging.getLogger(__name__)

_QUEUE_SIZE = 1000
_BATCH_MAX = 200  # events in one frame at most
CLOSE_BACKLOG = 4008  # too slow to keep up: reconnect and catch up
CLOSE_GOING_AWAY = 1012  # server restarting: reconnect
CLOSE_REVOKED = 4401  # credentials no longer valid: the console signs in again, the widget
# starts a new session


@dataclass(eq=False)
class Connection:
    ws: WebSocket
    kind: str  # "operator" | "visitor"
    operator_id: int | None = None
    sees_everything: bool = False
    team_ids: frozenset[int] = frozenset()
    contact_id: int | None = None
    channel_id: int | None = None
    queue: asyncio.Queue[str | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=_QUEUE_SIZE)
    )
    writer: asyncio.Task[None] | None = None
    wire: Protocol | None = None  # the fast path's protocol (wire.py)
    sending: bool = False  # the writer holds events it has not sent yet

    def direct(self) -> Protocol | None:
        """The protocol to write a frame to now, or None when the frame must go through
        the writer: it has events queued or in hand (they go first), it was stopped (a
        revoked or closed socket gets nothing more), or the socket cannot take it now."""
        w, writer = self.wire, self.writer
        if w is None or self.sending or not self.queue.empty():
            return None
        if writer is None or writer.done() or writer.cancelling() or not can_take(w):
            return None
        return w

    def push(self, payload: str) -> None:
        """Queues an event encoded once for all its sockets (encode())."""
        try:
            self.queue.put_nowait(payload)
        except asyncio.QueueFull:
            self.queue = asyncio.Queue(maxsize=1)
            self.queue.put_nowait(None)  # writer closes the socket


class Audience:
    """The sockets of this process, indexed by who they belong to, so an event costs the
    sockets that get it rather than a pass over all of them: at 1,000 operator consoles a
    message reaches its assignee and the supervisors, not 1,000 checks. recipients() is
    app.inbox.visibility.operator_sees answered from the index (plus the previous assignee, so
    the chat leaves their list); a test holds the two equal."""

    def __init__(self) -> None:
        self.everything: set[Connection] = set()  # admins and integrations
        self.operators: set[Connection] = set()  # every operator console
        self.by_operator: dict[int, set[Connection]] = {}
        self.by_team: dict[int, set[Connection]] = {}  # consoles of the team's members
        self.visitors: dict[tuple[int | None, int | None], set[Connection]] = {}

    def add(self, conn: Connection) -> None:
        if conn.kind != "operator":
            self.visitors.setdefault((conn.contact_id, conn.channel_id), set()).add(conn)
            return
        self.operators.add(conn)
        if conn.sees_everything:
            self.everything.add(conn)
        if conn.operator_id is not None:
            self.by_operator.setdefault(conn.operator_id, set()).add(conn)
        for team in conn.team_ids:
            self.by_team.setdefault(team, set()).add(conn)

    def discard(self, conn: Connection) -> None:
        if conn.kind != "operator":
            _drop(self.visitors, (conn.contact_id, conn.channel_id), conn)
            return
        self.operators.discard(conn)
        self.everything.discard(conn)
        if conn.operator_id is not None:
            _drop(self.by_operator, conn.operator_id, conn)
        for team in conn.team_ids:
            _drop(self.by_team, team, conn)

    def recipients(self, conv: ConversationRead, previous_assignee: Any = None) -> set[Connection]:
        """The operator consoles that see `conv` (plus the one who just lost it)."""
        found = set(self.everything)
        if conv.assignee_id is not None:
            found |= self.by_operator.get(conv.assignee_id, set())
        elif conv.team_id is None:
            found |= self.operators  # an unassigned chat of no team is everyone's
        else:
            found |= self.by_team.get(conv.team_id, set())
        if previous_assignee is not None:
            found |= self.by_operator.get(previous_assignee, set())
        return found

    def of_operator(self, operator_id: int) -> set[Connection]:
        return self.by_operator.get(operator_id, set())

    def of_visitor(self, contact_id: int, channel_id: int) -> set[Connection]:
        return self.visitors.get((contact_id, channel_id), set())


def _drop(index: dict[Any, set[Connection]], key: Any, conn: Connection) -> None:
    """Removes conn from index[key], and the key once empty (visitors come and go)."""
    bucket = index.get(key)
    if bucket is not None:
        bucket.discard(conn)
        if not bucket:
            del index[key]


ConsoleHook = Callable[[int], Awaitable[None]]


class Hub:
    def __init__(
        self, ctx: AppContext, *, on_console_open: ConsoleHook, on_console_close: ConsoleHook
    ):
        """`on_console_open/close(operator_id)` run when an operator's console socket opens
        and closes (routing's presence tally, wired by app/main.py: realtime does not know
        routing)."""
        self.ctx = ctx
        self.on_console_open = on_console_open
        self.on_console_close = on_console_close
        self.links = visitor_links(ctx)
        self.connections: set[Connection] = set()
        self.audience = Audience()
        self._pending: list[Event] = []
        self._wake = asyncio.Event()
        self._fanner: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._fanner = asyncio.create_task(self._fan_forever(), name="hub-fan-out")

    async def on_events(self, events: list[Event]) -> None:
        """Bus subscriber: close revoked sockets at once, queue the rest for the fan-out
        loop, in order."""
        revoked = self._revoked(events)
        if revoked:
            await self._close_revoked(revoked)
        self._pending.extend(events)
        self._wake.set()

    def _revoked(self, events: list[Event]) -> set[Connection]:
        """The sockets of this process whose credentials the events revoke."""
        found: set[Connection] = set()
        contacts: set[int] = set()
        for e in events:
            if e["type"] == OPERATOR_SESSIONS_REVOKED:
                found |= self.audience.of_operator(e["operator_id"])
            elif e["type"] == VISITOR_SESSIONS_REVOKED:
                contacts.add(e["contact_id"])
        if contacts:  # a contact's sockets on any widget
            for (contact_id, _), conns in self.audience.visitors.items():
                if contact_id in contacts:
                    found |= conns
        return found

    async def _close_revoked(self, conns: set[Connection]) -> None:
        for conn in conns:
            if conn.writer is not None:
                conn.writer.cancel()  # nothing more reaches it, not even what is queued
            with contextlib.suppress(Exception):
                await conn.ws.close(code=CLOSE_REVOKED, reason="token_revoked")
            await self.remove(conn)
            log.info("closed a %s socket: its credentials were revoked", conn.kind)

    async def _fan_forever(self) -> None:
        """One fan-out at a time, and not more often than fanout_interval_ms, or than the
        last one's sending cost: an idle hub sends an event at once, a busy one sends what
        piled up meanwhile together, one read of the database and one frame per socket.
        Without this, each NOTIFY woke every socket's writer: at 1,000 consoles and 100
        msg/s that is 100,000 sends a second, and the queues grew into seconds. The pause
        gives the rest of the loop (requests, the writers of slow sockets) the time the
        sending took from it; the database read is not counted, since the loop runs the
        rest while it waits for it."""
        interval = self.ctx.settings.fanout_interval_ms / 1000
        while True:
            await self._wake.wait()
            self._wake.clear()
            events, self._pending = self._pending, []
            pushing = 0.0
            try:
                pushing = await self._fan_out(events)
            except Exception:
                log.exception("fan-out failed; consoles catch up on reconnect")
            await asyncio.sleep(max(interval, pushing))

    async def add(self, conn: Connection) -> None:
        conn.wire = protocol_of(conn.ws.scope)
        conn.writer = asyncio.create_task(self._write(conn))
        self.connections.add(conn)
        self.audience.add(conn)
        WEBSOCKETS.labels(conn.kind).inc()

    async def remove(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self.audience.discard(conn)
            WEBSOCKETS.labels(conn.kind).dec()
        if conn.writer is not None:
            conn.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await conn.writer

    async def stop(self) -> None:
        """Shutdown: no more fan-outs, and every socket told to reconnect elsewhere."""
        if self._fanner is not None:
            self._fanner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._fanner
        await self.close_all()

    async def close_all(self, code: int = CLOSE_GOING_AWAY) -> None:
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=code, reason="reconnect")
            await self.remove(conn)

    async def _write(self, conn: Connection) -> None:
        while True:
            waiting = [await conn.queue.get()]
            conn.sending = True
            # Whatever else is waiting goes in the same frame: under load a frame per event
            # costs more than the event (each send is a write and a drain), so the writer
            # falls behind exactly when it matters. One event waiting: a frame of its own.
            while len(waiting) < _BATCH_MAX and not conn.queue.empty():
                waiting.append(conn.queue.get_nowait())
            payloads = [p for p in waiting if p is not None]
            if len(payloads) < len(waiting):
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=CLOSE_BACKLOG, reason="backlog: reconnect")
                return
            try:
                await conn.ws.send_text(frame(payloads))
            except Exception:
                return
            conn.sending = False

    async def _fan_out(self, events: list[Event]) -> float:
        """Send the events to their sockets; returns the seconds the sending took (after the
        database read)."""
        if not self.connections:
            return 0.0
        message_ids = sorted({e["message_id"] for e in events if e["type"].startswith("message.")})
        conversation_ids = {
            e["conversation_id"]
            for e in events
            if e["type"].startswith(("message.", "conversation.")) or e["type"] == VISITOR_TYPING
        }
        async with self.ctx.sessions() as session:
            messages = {m.id: m for m in await inbox_queries.messages_by_ids(session, message_ids)}
            conversations = await inbox_queries.conversations_by_ids(
                session, sorted(conversation_ids)
            )
        loop = asyncio.get_running_loop()
        started = loop.time()
        out = Outbox()
        for event in events:
            kind = event["type"]
            if "conversation_id" not in event and "notify_operator_id" in event:
                # A personal notice (e.g. the daily cadence digest) for one operator.
                payload = encode({"type": kind, "data": event})
                out.add(self.audience.of_operator(event["notify_operator_id"]), payload)
                continue
            if kind == "operator.presence":
                payload = encode({"type": kind, "data": event})
                out.add(self.audience.operators, payload)
                continue
            if kind == OPERATOR_TYPING:  # to the visitor's widget (no name: "we are typing")
                payload = encode({"type": "typing", "data": {"by": "operator"}})
                out.add(self.audience.of_visitor(event["contact_id"], event["channel_id"]), payload)
                continue
            conv = conversations.get(event.get("conversation_id", -1))
            if conv is None:
                continue
            if kind == VISITOR_TYPING:
                payload = encode(
                    {"type": "typing", "data": {"conversation_id": conv.id, "by": "contact"}}
                )
                out.add(self.audience.recipients(conv), payload)
                continue
            if kind.startswith("message."):
                msg = messages.get(event["message_id"])
                if msg is not None:
                    self._fan_message(out, kind, msg, conv)
            elif kind.startswith("conversation."):
                payload = encode({"type": kind, "data": conv.model_dump(mode="json")})
                # The owner of a client is told even when someone else took the chat.
                notify = event.get("notify_operator_id")
                recipients = self.audience.recipients(conv, event.get("previous_assignee_id"))
                if notify is not None:
                    recipients |= self.audience.of_operator(notify)
                out.add(recipients, payload)
        out.deliver()
        return loop.time() - started

    def _fan_message(self, out: "Outbox", kind: str, msg: Message, conv: ConversationRead) -> None:
        operators = self.audience.recipients(conv)
        if operators:
            op_payload = encode(
                {
                    "type": kind,
                    "data": inbox_queries.to_message_read(msg).model_dump(mode="json"),
                    "conversation": conv.model_dump(mode="json"),
                }
            )
            out.add(operators, op_payload)
        visitors = self.audience.of_visitor(msg.contact_id, msg.channel_account_id)
        if visitors and visible_to_visitor(kind, msg):
            visitor_payload = encode(
                {
                    "type": "message.created",
                    "data": to_widget_message(msg, self.links).model_dump(mode="json"),
                }
            )
            out.add(visitors, visitor_payload)


class Outbox:
    """A fan-out pass's events, per socket, in order; deliver() sends them."""

    def __init__(self) -> None:
        self.of: dict[Connection, list[str]] = {}

    def add(self, conns: Iterable[Connection], payload: str) -> None:
        of = self.of
        for conn in conns:
            if conn in of:
                of[conn].append(payload)
            else:
                of[conn] = [payload]

    def deliver(self) -> None:
        """One frame per socket (per _BATCH_MAX events), its bytes built once for all the
        sockets that get the same events (in a shared queue: the team's consoles, and the
        admins) and written to each transport that can take it now; the rest go through
        the sockets' queues, behind what waits there."""
        shared: dict[tuple[str, ...], list[Connection]] = {}
        for conn, payloads in self.of.items():
            shared.setdefault(tuple(payloads), []).append(conn)
        direct = queued = 0
        for events, conns in shared.items():
            data: bytes | None = None
            for conn in conns:
                protocol = conn.direct()
                if protocol is None:
                    for payload in events:
                        conn.push(payload)
                    queued += 1
                    continue
                if data is None:
                    data = b"".join(
                        text_frame(frame(list(events[i : i + _BATCH_MAX])))
                        for i in range(0, len(events), _BATCH_MAX)
                    )
                protocol.transport.write(data)
                direct += 1
        FANOUT_DELIVERIES.labels("direct").inc(direct)
        FANOUT_DELIVERIES.labels("queued").inc(queued)


def encode(event: dict[str, Any]) -> str:
    """An event as the JSON text every socket is sent (once per event, not per socket)."""
    return orjson.dumps(event).decode()


def frame(payloads: list[str]) -> str:
    """One event as itself; several as {"type": "batch", "events": [...]}, in order."""
    if len(payloads) == 1:
        return payloads[0]
    return '{"type":"batch","events":[' + ",".join(payloads) + "]}"


def visible_to_visitor(kind: str, msg: Message) -> bool:
    """Visitors see their own messages, and ours once they are sent (not queued, not notes)."""
    if msg.direction == Direction.inbound:
        return kind == "message.created"
    if msg.direction == Direction.outbound:
        return kind == "message.updated" and msg.delivery_state == DeliveryState.sent
    return False
