"""One round of the useful messages on cadence in a process of its own, as a worker process
runs it (the test starts two at once): `python -m tests.sales.cadence_round <db url> <now>
<data dir>`; prints how many messages this process queued."""

import asyncio
import sys
from datetime import datetime
from pathlib import Path

import app.models  # noqa: F401  (every model, as in a worker process)
from app import handlers, plugins
from app.core.context import build_context
from app.sales.tasks import CadenceMessages
from tests.conftest import make_settings


async def main(url: str, now: str, data_dir: str) -> None:
    settings = make_settings(Path(data_dir), url)
    ctx = build_context(settings)
    handlers.install()
    plugins.configure(settings)
    try:
        print(await CadenceMessages(ctx).tick(datetime.fromisoformat(now)))
    finally:
        await ctx.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
