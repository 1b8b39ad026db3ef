"""Email ingest: mails stored per second by the mailbox reader, and its CPU per mail.

    python -m bench.email [--mails 2000] [--runs 3] [--workers 2] [--smoke]

Mail is not posted to us: a worker of `python -m app serve` holds the mailbox's lock and
reads it over IMAP (app/email/reader.py), so the load is a full mailbox. Each run connects
a fresh mailbox of a local Dovecot (tests/connectors/email/servers.py, aiosmtpd for the
SMTP login check) through the API, waits until one warm-up mail is stored (the reader is
in IDLE), then appends `--mails` realistic mails in ONE IMAP command (MULTIAPPEND: plain
UTF-8 text, every fifth in windows-1251, every tenth with a small PDF, from mails/10
senders, so most join a conversation opened earlier in the burst).

Measured: mails/s from the start of the append to the moment the last message row is
seen (polled every 50 ms); the delay from the append's end (when the burst is visible in
the mailbox) to each message's created_at: the first (the reader's wake-up from IDLE) and
p50/p99, which under a burst are mostly queueing behind the mails before; and the CPU of
the serving processes per mail (psutil, as bench.ingest_cpu; PostgreSQL's and Dovecot's own
CPU is not counted). Medians of `--runs`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import socket
import statistics
import time
import uuid
from collections.abc import Iterator
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate
from typing import Any

import asyncpg
import httpx

from bench.common import (
    Node,
    Report,
    admin_token,
    database,
    percentile,
    seed_admin,
    start_node,
    tree_cpu,
    wait_ready,
)
from tests.connectors.email.servers import (
    PASSWORD,
    Dovecot,
    SmtpServer,
    make_certs,
    run_dovecot,
    run_smtp,
)

# A reader that finds new mailboxes and retries fast; IDLE still waits for Dovecot's
# notification (imap_idle_notify_interval = 1 s in servers.py).
FAST_READER = {
    "CHATCENTRE_EMAIL_SCAN_SECONDS": "0.2",
    "CHATCENTRE_EMAIL_IDLE_SECONDS": "5",
    "CHATCENTRE_EMAIL_LOCK_RETRY_SECONDS": "0.2",
    "CHATCENTRE_EMAIL_ERROR_BACKOFF_SECONDS": "0.05",
}
SMTP_LOGIN = "support@shop.example"  # the login servers.py's SMTP server accepts
POLL_SECONDS = 0.05

BODIES = [
    "Hello, where is my order {n}? It was due yesterday.",
    "Добрый день! Подскажите, когда придёт заказ {n}? Спасибо.",
    "Hi, I would like to change the delivery address for order {n} to\n"
    "12 Baker Street, London. Thanks in advance!",
    "Здравствуйте. Заказ {n} пришёл неполный: нет зарядного устройства.\n"
    "Прошу дослать или вернуть деньги.",
    "Could you send me an invoice for order {n}? Our accountant needs it.",
]
QUOTE = "\n\nOn Mon, 1 Dec 2026 at 10:00, Example Shop wrote:\n> Thank you for your order.\n"
PDF = b"%PDF-1.4\n" + b"".join(hashlib.sha256(bytes([i])).digest() for i in range(96)) + b"%%EOF\n"


# ------------------------------------------------------------------ mails


def build_mails(count: int, run_id: str) -> list[bytes]:
    """The first mails/10 from new senders, the rest from them again, interleaved."""
    senders = max(1, count // 10)
    mails = []
    for n in range(count):
        sender = n * 7919 % senders
        sender_name = formataddr((f"Client {sender}", f"client{sender}.{run_id}@example.com"))
        msgid = f"<{run_id}.{n}@mail.example.com>"
        body = BODIES[n % len(BODIES)].format(n=1000 + n) + (QUOTE if n % 3 == 0 else "")
        if n % 5 == 1:
            mails.append(_cp1251(sender_name, msgid, f"Заказ {1000 + sender}", body))
            continue
        msg = EmailMessage()
        msg["From"] = sender_name
        msg["To"] = "Example Shop <support@shop.example>"
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = msgid
        msg["Subject"] = f"Order {1000 + sender}"
        msg.set_content(body)
        if n % 10 == 7:
            msg.add_attachment(
                PDF, maintype="application", subtype="pdf", filename=f"invoice-{n}.pdf"
            )
        mails.append(msg.as_bytes(policy=SMTP))
    return mails


def _cp1251(sender: str, msgid: str, subject: str, body: str) -> bytes:
    """As Russian desktop clients still send: 8-bit windows-1251 body, encoded-word subject."""
    headers = [
        f"From: {sender}",
        "To: Example Shop <support@shop.example>",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {msgid}",
        f"Subject: {Header(subject, 'windows-1251').encode()}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=windows-1251",
        "Content-Transfer-Encoding: 8bit",
    ]
    text = "\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n"
    return text.encode("windows-1251", "replace")


def multiappend(dovecot: Dovecot, user: str, mails: list[bytes]) -> None:
    """All mails into INBOX in one APPEND (RFC 3502 MULTIAPPEND, LITERAL+): the burst
    becomes visible at once, and the client is no bottleneck."""
    with socket.create_connection(("127.0.0.1", dovecot.port), 60) as sock:
        replies = sock.makefile("rb")
        replies.readline()  # the greeting
        sock.sendall(f'a1 LOGIN {user} "{PASSWORD}"\r\n'.encode())
        _tagged(replies, b"a1")
        literals = b"".join(b" {%d+}\r\n" % len(raw) + raw for raw in mails)
        sock.sendall(b"a2 APPEND INBOX" + literals + b"\r\n")
        _tagged(replies, b"a2")
        sock.sendall(b"a3 LOGOUT\r\n")


def _tagged(replies: Any, tag: bytes) -> None:
    while line := replies.readline():
        if line.startswith(tag + b" "):
            if not line.startswith(tag + b" OK"):
                raise RuntimeError(f"IMAP: {line!r}")
            return
    raise RuntimeError("IMAP connection closed")


# ------------------------------------------------------------------ one run


async def create_mailbox(
    client: httpx.AsyncClient, headers: dict[str, str], dovecot: Dovecot, smtp: SmtpServer
) -> str:
    """Connects a mailbox no earlier run touched; returns its IMAP user."""
    user = dovecot.new_user()  # a mailbox no earlier run touched
    r = await client.post(
        "/api/v1/channels",
        json={
            "type": "email",
            "name": f"bench mailbox {user}",
            "settings": {
                "address": "support@shop.example",
                "from_name": "Example Shop",
                "imap_host": "127.0.0.1",
                "imap_port": dovecot.port,
                "imap_security": "none",
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "smtp_security": "none",
                "username": user,
                "smtp_username": SMTP_LOGIN,
                "idle": True,
                "timeout": 30,
            },
            "credentials": {"password": PASSWORD},
        },
        headers=headers,
    )
    r.raise_for_status()
    return user


async def stored_after(db: asyncpg.Connection, last_id: int) -> int:
    count = await db.fetchval(
        "SELECT count(*) FROM messages WHERE direction = 'inbound' AND id > $1", last_id
    )
    return int(count)


async def until_stored(db: asyncpg.Connection, last_id: int, count: int, timeout: float) -> float:
    """time.time() when `count` inbound messages after `last_id` are seen."""
    deadline = time.monotonic() + timeout
    while (seen := await stored_after(db, last_id)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {seen} of {count} mails stored in {timeout:.0f} s")
        await asyncio.sleep(POLL_SECONDS)
    return time.time()


async def one_run(
    count: int,
    dovecot: Dovecot,
    user: str,
    db: asyncpg.Connection,
    node: Node,
) -> dict[str, float]:
    run_id = uuid.uuid4().hex[:8]
    last_id = int(await db.fetchval("SELECT COALESCE(max(id), 0) FROM messages"))
    # Warm-up: one mail through, so the reader holds the lock and sits in IDLE.
    await asyncio.to_thread(multiappend, dovecot, user, build_mails(1, f"w{run_id}"))
    await until_stored(db, last_id, 1, 60)
    last_id = int(await db.fetchval("SELECT COALESCE(max(id), 0) FROM messages"))
    mails = build_mails(count, run_id)
    cpu_before = tree_cpu(node.proc.pid)
    started = time.time()
    await asyncio.to_thread(multiappend, dovecot, user, mails)
    appended = time.time()
    done = await until_stored(db, last_id, count, 60 + count * 0.2)
    cpu = tree_cpu(node.proc.pid) - cpu_before
    rows = await db.fetch(
        "SELECT extract(epoch FROM created_at)::float8 AS at FROM messages "
        "WHERE direction = 'inbound' AND id > $1",
        last_id,
    )
    delays = [(row["at"] - appended) * 1000 for row in rows]
    return {
        "mails/s": count / (done - started),
        "append s": appended - started,
        "first ms": min(delays),
        "p50 ms": percentile(delays, 50),
        "p99 ms": percentile(delays, 99),
        "CPU ms/mail": cpu * 1000 / count,
    }


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", default="email.json")
    parser.add_argument("--smoke", action="store_true", help="50 mails, one run")
    args = parser.parse_args()
    if args.smoke:
        args.mails, args.runs, args.output = 50, 1, "email-smoke.json"
    asyncio.run(run(args))


@contextlib.contextmanager
def mail_servers() -> Iterator[tuple[Dovecot, SmtpServer]]:
    with run_dovecot() as dovecot, run_smtp(make_certs(dovecot.root), "plain") as smtp:
        yield dovecot, smtp


async def run(args: argparse.Namespace) -> None:
    url = await database()
    await seed_admin(url)
    db = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    results = []
    with mail_servers() as (dovecot, smtp):
        node = start_node(url, workers=args.workers, **FAST_READER)
        try:  # the node stops first: its readers would log Dovecot's going away
            await wait_ready([node])
            async with httpx.AsyncClient(base_url=node.base, timeout=60) as client:
                headers = {"Authorization": f"Bearer {await admin_token(client)}"}
                for n in range(args.runs):
                    user = await create_mailbox(client, headers, dovecot, smtp)
                    result = await one_run(args.mails, dovecot, user, db, node)
                    results.append(result)
                    figures = ", ".join(f"{k} {v:,.2f}" for k, v in result.items())
                    print(f"  run {n + 1}: {figures}")
        finally:
            node.stop()
            await db.close()
    report = report_of(args, results)
    report.print()
    print(f"written {report.save(args.output)}")


def report_of(args: argparse.Namespace, results: list[dict[str, float]]) -> Report:
    columns = list(results[0])
    report = Report(
        f"Email ingest ({args.workers} workers, {args.mails} mails appended at once, "
        f"fresh mailbox per run, median of {args.runs})",
        ["run", *columns],
    )
    for n, result in enumerate(results, 1):
        report.rows.append([str(n), *(round(result[c], 2) for c in columns)])
    report.rows.append(
        ["median", *(round(statistics.median(r[c] for r in results), 2) for c in columns)]
    )
    return report


if __name__ == "__main__":
    main()
