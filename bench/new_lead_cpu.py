"""New leads vs chatter in one process: Python CPU and SQL statements per request.

    python -m bench.new_lead_cpu [--operators 5] [--leads 150]

The app runs in this process (its lifespan, no background workers) and is called through
httpx's ASGI transport one request at a time, so nothing queues and the machine's other load
moves the figures little: each visitor's first widget message (a new contact and
conversation, routed to one of `--operators` operators online in the channel's team, or
queued with none) and then their second (a message in an existing conversation). Statements
are counted on the engine (each a round trip); CPU is this process's (time.process_time),
PostgreSQL's is not counted. Uses CHATCENTRE_DATABASE_URL (emptied)."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bench.common import Report, database
from tests.conftest import make_settings, running_app
from tests.helpers import visitor_post, visitor_session
from tests.routing.test_routing import make_operators, team_channel

WARM_UP = 10


async def run(args: argparse.Namespace) -> None:
    url = await database()
    settings = make_settings(Path(tempfile.mkdtemp()), url, run_workers=False)
    async with running_app(settings, truncate=False) as app:
        admin = await app.admin_token()
        ops = await make_operators(app, admin, args.operators, limit=10_000)
        key = await team_channel(app, admin, ops)
        tokens = [
            (await visitor_session(app.client, key))["visitor_token"]
            for _ in range(args.leads + WARM_UP)
        ]
        statements = [0]

        def seen(*_: Any) -> None:
            statements[0] += 1

        event.listen(app.ctx.engine.sync_engine, "before_cursor_execute", seen)
        for token in tokens[:WARM_UP]:
            await visitor_post(app.client, key, token, "warm-up")
        report = Report(
            f"New lead vs existing conversation, in process ({args.operators} operators online)",
            ["request", "CPU ms median", "CPU ms mean", "statements median"],
        )
        medians = {}
        for label in ("new lead", "existing"):
            cpu, counts = [], []
            for token in tokens[WARM_UP:]:
                statements[0] = 0
                started = time.process_time()
                r = await visitor_post(app.client, key, token, label)
                cpu.append((time.process_time() - started) * 1000)
                counts.append(statements[0])
                assert r.status_code == 201, r.text
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operators", type=int, default=5)
    parser.add_argument("--leads", type=int, default=150)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
