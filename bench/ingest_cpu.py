"""Ingest: CPU time per message of the service and of its HTTP + same-SQL floor.

    python -m bench.ingest_cpu [--kinds widget,telegram,whatsapp,mixed] [--rate 200]
                               [--seconds 10] [--runs 3] [--workers 2] [--smoke]
                               [--operators 5 [--teams 5]]

Throughput steps (bench.ingest) move with whatever else the machine runs; CPU seconds per
message move much less, so this is the figure to compare before and after a change on a
shared machine. Each kind is sent open-loop at a fixed rate well below saturation; the CPU
(user + system) of the serving processes (`python -m app serve` and its uvicorn workers,
or bench.floor_app's) is read before and after with psutil. PostgreSQL's own CPU is
reported beside it (the embedded server's processes, same window; not with
CHATCENTRE_DATABASE_URL), and its client backends' alone (the statements' cost, steadier:
no checkpointer or autovacuum bursts), neither counted in the ratio: the floor issues the same
statement, so what differs there is what our code asks beyond it (a new lead's routing).
Medians of `--runs` runs per kind."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
from dataclasses import dataclass
from typing import Any

from bench.common import (
    Report,
    client_backends_cpu,
    database,
    embedded_postmaster,
    start_node,
    tree_cpu,
    wait_ready,
)
from bench.ingest import KINDS, online_operators, run_step, setup, start_floor_app, wait_floor_app


@dataclass
class StepCpu:
    """Milliseconds of CPU per accepted message: ours, the whole PostgreSQL server's and its
    client backends' (None: not measured); the client backends that exited or started in
    the window (their CPU is missed or counted whole); the step."""

    ours: float
    pg: float | None
    backends: float | None
    backends_churned: int
    step: dict[str, Any]


def cpu_per_message(
    kind: str, target: Any, pid: int, rate: float, seconds: float, counter: Any
) -> StepCpu:
    run_step(kind, target, rate, 1.0, next(counter) * 1_000_000)  # warm-up, not counted
    postmaster = embedded_postmaster()
    before = tree_cpu(pid)
    pg_before = tree_cpu(postmaster) if postmaster else 0.0
    backends_before = client_backends_cpu(postmaster) if postmaster else {}
    step = run_step(kind, target, rate, seconds, next(counter) * 1_000_000)
    used = tree_cpu(pid) - before
    accepted = max(step["ok"], 1)
    if not postmaster:
        return StepCpu(used * 1000 / accepted, None, None, 0, step)
    pg = (tree_cpu(postmaster) - pg_before) * 1000 / accepted
    backends_after = client_backends_cpu(postmaster)
    backends = sum(t - backends_before.get(p, 0.0) for p, t in backends_after.items())
    churned = len(set(backends_before) ^ set(backends_after))
    return StepCpu(used * 1000 / accepted, pg, backends * 1000 / accepted, churned, step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--operators", type=int, default=0, help="operators online")
    parser.add_argument("--teams", type=int, default=0, help="teams the operators are in")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, no thresholds")
    args = parser.parse_args()
    if args.smoke:
        args.kinds, args.rate, args.seconds, args.runs = "widget", 50.0, 1.0, 1
    asyncio.run(run(args))


async def run(args: argparse.Namespace) -> None:
    url = await database()
    # No overload shedding: a 503 costs little CPU and stores nothing, so shed requests
    # would inflate CPU per stored message on a loaded machine (the floor sheds nothing).
    node = start_node(
        url,
        workers=args.workers,
        CHATCENTRE_PUBLIC_URL="http://127.0.0.1",
        CHATCENTRE_SHED_MAX_IN_FLIGHT="0",
        CHATCENTRE_SHED_MAX_POOL_WAIT_MS="0",
    )
    floor_proc = None
    try:
        await wait_ready([node], timeout=240)  # a loaded machine starts slowly
        target = await setup(url, [node])
        if args.operators:
            await online_operators(node.base, args.operators, args.teams)
        floor_proc, floor_base = start_floor_app(url, target.telegram_channel, args.workers)
        await wait_floor_app(floor_base)
        target.floor_bases = [floor_base]
        counter = itertools.count(1)
        report = Report(
            f"Ingest CPU per message ({args.workers} workers, {args.rate:.0f} msg/s open-loop "
            f"for {args.seconds:.0f} s, median of {args.runs})",
            [
                "endpoint",
                "CPU ms/msg",
                "runs",
                "PostgreSQL ms/msg",
                "its client backends ms/msg",
                "p50 ms",
                "p99 ms",
            ],
        )
        medians: dict[str, float] = {}
        for kind in [*args.kinds.split(","), "http_sql"]:
            pid = floor_proc.pid if kind == "http_sql" else node.proc.pid
            runs = []
            for _ in range(args.runs):
                got = cpu_per_message(kind, target, pid, args.rate, args.seconds, counter)
                runs.append(got)
                pg_text = "-" if got.pg is None else f"{got.pg:.3f}"
                backends_text = "-" if got.backends is None else f"{got.backends:.3f}"
                print(
                    f"  {kind:9s} {got.ours:6.3f} ms CPU/msg  pg {pg_text}  client backends "
                    f"{backends_text} ({got.backends_churned} started or ended)  "
                    f"ok {got.step['ok']}/{got.step['sent']}"
                )
            medians[kind] = statistics.median(r.ours for r in runs)
            pg = [r.pg for r in runs if r.pg is not None]
            backends = [r.backends for r in runs if r.backends is not None]
            last = runs[-1].step
            label = "bare ASGI + same SQL (floor)" if kind == "http_sql" else kind
            report.rows.append(
                [
                    label,
                    f"{medians[kind]:.3f}",
                    " ".join(f"{r.ours:.3f}" for r in runs),
                    f"{statistics.median(pg):.3f}" if pg else "-",
                    f"{statistics.median(backends):.3f}" if backends else "-",
                    last["p50"],
                    last["p99"],
                ]
            )
        floor = medians["http_sql"]
        for kind in args.kinds.split(","):
            report.notes[f"{kind} CPU / floor CPU"] = f"{medians[kind] / floor:.2f}x"
        report.print()
    finally:
        if floor_proc is not None:
            floor_proc.terminate()
            floor_proc.wait(15)
        node.stop()


if __name__ == "__main__":
    main()
