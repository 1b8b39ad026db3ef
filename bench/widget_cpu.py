"""Widget messages in existing conversations, in one process: CPU and statements per post.

    python -m bench.widget_cpu [--visitors 1000] [--messages 1500]
                               [--what-if autocommit|no-bus]

The app runs in this process (its lifespan, no background workers) and is called through
httpx's ASGI transport one request at a time, so the machine's other load moves the figure
little. Each visitor has posted once before the measure; the measured posts go round robin
over `--visitors`, so with 1,000 each visitor's token version is older than the process's
5-s cache (VERSION_TTL) at every post, and with 20 it is always cached. Statements are
counted on the engine (BEGIN and COMMIT not included); CPU is this process's
(time.process_time, the test client's share included), PostgreSQL's is not counted.

`--what-if` measures what a round trip costs, not the service: `autocommit` runs every
statement in its own transaction (no BEGIN/COMMIT round trips; not safe for the service,
whose handlers write in the message's transaction), `no-bus` drops the event bus's NOTIFY.
Uses CHATCENTRE_DATABASE_URL (emptied)."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.common import Report, database
from tests.conftest import make_settings, running_app
from tests.helpers import visitor_post, visitor_session
from tests.routing.test_routing import make_operators, team_channel


async def run(args: argparse.Namespace) -> None:
    url = await database()
    settings = make_settings(Path(tempfile.mkdtemp()), url, run_workers=False)
    async with running_app(settings, truncate=False) as app:
        admin = await app.admin_token()
        key = await team_channel(app, admin, await make_operators(app, admin, 0))
        tokens = [
            (await visitor_session(app.client, key))["visitor_token"] for _ in range(args.visitors)
        ]
        for i in range(max(200, args.visitors)):  # every conversation opened, code warm
            r = await visitor_post(app.client, key, tokens[i % args.visitors], "warm-up")
            assert r.status_code == 201, r.text
        if args.what_if == "autocommit":
            app.ctx.engine.sync_engine.update_execution_options(isolation_level="AUTOCOMMIT")
        elif args.what_if == "no-bus":

            async def dropped(payload: str) -> None:
                return None

            app.ctx.bus._send = dropped  # type: ignore[method-assign]
        statements = [0]

        def seen(*_: Any) -> None:
            statements[0] += 1

        event.listen(app.ctx.engine.sync_engine, "before_cursor_execute", seen)
        cpu, wall = time.process_time(), time.monotonic()
        for i in range(args.messages):
            r = await visitor_post(app.client, key, tokens[i % args.visitors], f"m {i}")
            assert r.status_code == 201, r.text
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        report = Report(
            f"Widget posts in existing conversations, in process ({args.visitors} visitors"
            + (f", what-if {args.what_if}" if args.what_if else "")
            + ")",
            ["messages", "CPU ms per post", "statements per post", "wall ms per post"],
        )
        report.rows.append(
            [
                args.messages,
                f"{cpu * 1000 / args.messages:.2f}",
                f"{statements[0] / args.messages:.2f}",
                f"{wall * 1000 / args.messages:.2f}",
            ]
        )
        report.print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=1500)
    parser.add_argument("--what-if", choices=["autocommit", "no-bus"], default=None)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
