"""Widget posts in one process: Python CPU and SQL statements per request.

    python -m bench.inprocess_cpu --mode widget [--visitors 1000] [--messages 1500]
                                  [--what-if autocommit|no-bus]
    python -m bench.inprocess_cpu --mode new_lead [--operators 5] [--leads 150]

The app runs in this process (its lifespan, no background workers) and is called through
httpx's ASGI transport one request at a time, so nothing queues and the machine's other load
moves the figures little. Statements are counted on the engine (each a round trip; BEGIN and
COMMIT not included); CPU is this process's (time.process_time, the test client's share
included), PostgreSQL's is not counted. Uses CHATCENTRE_DATABASE_URL (emptied).

`widget`: messages in existing conversations. Each visitor has posted once before the
measure; the measured posts go round robin over `--visitors`, so with 1,000 each visitor's
token version is older than the process's 5-s cache (VERSION_TTL) at every post, and with 20
it is always cached. Then the readers of the stored events that every serve process runs in
its background (the automation rules' drain and the outgoing webhooks' fan-out) read what the
posts stored, once each, and their CPU per post is reported beside the request's.
`--what-if` measures what a round trip costs, not the service: `autocommit` runs every
statement in its own transaction (no BEGIN/COMMIT round trips; not safe for the service,
whose handlers write in the message's transaction), `no-bus` drops the event bus's NOTIFY.

`new_lead`: new leads vs chatter. Each visitor's first widget message (a new contact and
conversation, routed to one of `--operators` operators online in the channel's team, or
queued with none) and then their second (a message in an existing conversation); medians."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from app.automation.engine import drain
from app.core.context import AppContext
from app.events.store import Gaps
from app.webhooks.service import fan_out
from bench.common import Report, database
from tests.conftest import Running, make_settings, running_app
from tests.helpers import statements_sent, visitor_post, visitor_session
from tests.routing.test_routing import make_operators, team_channel

NEW_LEAD_WARM_UP = 10


@asynccontextmanager
async def team_app(operators: int, limit: int = 10) -> AsyncIterator[tuple[Running, str]]:
    """The app on an emptied database, and the widget key of a channel whose team has
    `operators` operators online."""
    url = await database()
    settings = make_settings(Path(tempfile.mkdtemp()), url, run_workers=False)
    async with running_app(settings, truncate=False) as app:
        admin = await app.admin_token()
        key = await team_channel(app, admin, await make_operators(app, admin, operators, limit))
        yield app, key


async def tokens_of(app: Running, key: str, visitors: int) -> list[str]:
    return [(await visitor_session(app.client, key))["visitor_token"] for _ in range(visitors)]


async def post(app: Running, key: str, token: str, text: str) -> None:
    r = await visitor_post(app.client, key, token, text)
    assert r.status_code == 201, r.text


async def run_widget(args: argparse.Namespace) -> None:
    async with team_app(0) as (app, key):
        ctx = app.ctx
        tokens = await tokens_of(app, key, args.visitors)
        for i in range(max(200, args.visitors)):  # every conversation opened, code warm
            await post(app, key, tokens[i % args.visitors], "warm-up")
        gaps: tuple[Gaps, Gaps] = ({}, {})  # the readers' own, kept between rounds
        await read_events(ctx, gaps)  # caught up with the warm-up's events
        if args.what_if == "autocommit":
            ctx.engine.sync_engine.update_execution_options(isolation_level="AUTOCOMMIT")
        elif args.what_if == "no-bus":

            async def dropped(payload: str) -> None:
                return None

            ctx.bus._send = dropped  # type: ignore[method-assign]
        with statements_sent(ctx.engine) as statements:
            cpu, wall = time.process_time(), time.monotonic()
            for i in range(args.messages):
                await post(app, key, tokens[i % args.visitors], f"m {i}")
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        readers = time.process_time()
        events = await read_events(ctx, gaps)
        readers = time.process_time() - readers
        report = Report(
            f"Widget posts in existing conversations, in process ({args.visitors} visitors"
            + (f", what-if {args.what_if}" if args.what_if else "")
            + ")",
            [
                "messages",
                "CPU ms per post",
                "statements per post",
                "wall ms per post",
                "event readers' CPU ms per post",
                "events per post",
            ],
        )
        report.rows.append(
            [
                args.messages,
                f"{cpu * 1000 / args.messages:.2f}",
                f"{len(statements) / args.messages:.2f}",
                f"{wall * 1000 / args.messages:.2f}",
                f"{readers * 1000 / args.messages:.3f}",
                f"{events / args.messages:.2f}",
            ]
        )
        report.print()


async def read_events(ctx: AppContext, gaps: tuple[Gaps, Gaps]) -> int:
    """What one serve process's background readers do with the events stored since their
    last round: the automation rules' drain and the webhook fan-out, until both are caught
    up. Returns the number of events the fan-out took."""
    automation_gaps, fanout_gaps = gaps
    while await drain(ctx, automation_gaps) > 0:
        pass
    taken = 0
    while True:
        async with ctx.sessions() as session:
            read = await fan_out(session, ctx.settings, fanout_gaps)
            await session.commit()
        taken += read
        if read == 0:
            return taken


async def run_new_lead(args: argparse.Namespace) -> None:
    async with team_app(args.operators, limit=10_000) as (app, key):
        tokens = await tokens_of(app, key, args.leads + NEW_LEAD_WARM_UP)
        for token in tokens[:NEW_LEAD_WARM_UP]:
            await post(app, key, token, "warm-up")
        report = Report(
            f"New lead vs existing conversation, in process ({args.operators} operators online)",
            ["request", "CPU ms median", "CPU ms mean", "statements median"],
        )
        medians = {}
        for label in ("new lead", "existing"):
            cpu, counts = [], []
            for token in tokens[NEW_LEAD_WARM_UP:]:
                with statements_sent(app.ctx.engine) as statements:
                    started = time.process_time()
                    await post(app, key, token, label)
                    cpu.append((time.process_time() - started) * 1000)
                counts.append(len(statements))
            medians[label] = statistics.median(cpu)
            report.rows.append(
                [
                    label,
                    f"{medians[label]:.2f}",
                    f"{statistics.mean(cpu):.2f}",
                    statistics.median(counts),
                ]
            )
        report.notes["new lead / existing CPU"] = (
            f"{medians['new lead'] / medians['existing']:.2f}x"
        )
        report.print()


MODES = {"widget": run_widget, "new_lead": run_new_lead}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=sorted(MODES), default="widget")
    widget = parser.add_argument_group("--mode widget")
    widget.add_argument("--visitors", type=int, default=1000)
    widget.add_argument("--messages", type=int, default=1500)
    widget.add_argument("--what-if", choices=["autocommit", "no-bus"], default=None)
    new_lead = parser.add_argument_group("--mode new_lead")
    new_lead.add_argument("--operators", type=int, default=5)
    new_lead.add_argument("--leads", type=int, default=150)
    args = parser.parse_args()
    asyncio.run(MODES[args.mode](args))


if __name__ == "__main__":
    main()
