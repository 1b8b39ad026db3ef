"""One process's automation round, for the multi-process test: the settings pickled and
base64-encoded in argv[1] (JSON would mask the secrets), the wall-clock second to start at
in argv[2] (so the processes read together); prints the number of events it read."""

import asyncio
import base64
import pickle
import sys
import time

import app.models  # noqa: F401  (every model, as in a worker process)
from app.automation import engine
from app.config import Settings
from app.core.context import build_context


async def main() -> None:
    settings = pickle.loads(base64.b64decode(sys.argv[1]))
    assert isinstance(settings, Settings)
    ctx = build_context(settings)
    try:
        await asyncio.sleep(max(0.0, float(sys.argv[2]) - time.time()))
        print(await engine.drain(ctx, {}))
    finally:
        await ctx.close()


asyncio.run(main())
