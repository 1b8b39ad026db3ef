"""The fan-out's database read in process: CPU and wall per read of a pass's messages and
conversations (`messages_by_ids` + `conversations_by_ids` in one session, as the hub reads
them), for passes of one and of three messages.

    python -m bench.fanout_read [--reads 200]

Reads what `python -m bench.fanout` left in its database (run that first), or
CHATCENTRE_DATABASE_URL. CPU time of this process, so other load matters little."""

from __future__ import annotations

import argparse
import asyncio
import time

from sqlalchemy import text

from app.core.context import build_context
from app.inbox import queries
from bench.common import DATA_DIR, SECRET


async def run(args: argparse.Namespace) -> None:
    import os

    os.environ.setdefault("CHATCENTRE_SECRET_KEY", SECRET)
    if not os.environ.get("CHATCENTRE_DATABASE_URL"):  # bench.fanout's, as it left it
        from app.db.embedded import start_embedded

        url = start_embedded(DATA_DIR, database="chatcentre_bench_fanout")
        os.environ["CHATCENTRE_DATABASE_URL"] = url
    from app.config import get_settings

    ctx = build_context(get_settings())
    try:
        async with ctx.sessions() as session:
            rows = (
                await session.execute(
                    text("SELECT id, conversation_id FROM messages ORDER BY id DESC LIMIT 600")
                )
            ).all()
        if len(rows) < 600:
            raise SystemExit("run python -m bench.fanout first: its messages are read here")
        for size in (1, 3):
            started_cpu, started = time.process_time(), time.perf_counter()
            for i in range(args.reads):
                batch = rows[i * size % 500 :][:size]
                async with ctx.sessions() as session:
                    await queries.messages_by_ids(session, sorted(r[0] for r in batch))
                    await queries.conversations_by_ids(session, sorted({r[1] for r in batch}))
            cpu = (time.process_time() - started_cpu) / args.reads * 1000
            wall = (time.perf_counter() - started) / args.reads * 1000
            print(f"read of {size} message(s): {cpu:.2f} ms CPU, {wall:.2f} ms wall")
    finally:
        await ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=200)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
