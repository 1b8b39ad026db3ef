"""One reader per mailbox across processes: two `chatcentre worker` processes share the
test database; one reads, the other waits, and takes over when the first dies. Every mail
is stored once."""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Running
from tests.connectors.email.servers import Dovecot, SmtpServer
from tests.email.conftest import email_settings
from tests.email.helpers import all_messages, mail, until
from tests.email.test_inbound import connect

LEADING = b": leading"  # app/channels/leader.py logs "email-reader-<id>: leading"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return email_settings(run_workers=False)  # only the two worker processes read


class WorkerProcess:
    def __init__(self, url: str, log: Path):
        self.log = log
        env = {
            **os.environ,
            "CHATCENTRE_DATABASE_URL": url,
            "CHATCENTRE_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "CHATCENTRE_DATA_DIR": str(log.parent),
            "CHATCENTRE_LOG_LEVEL": "info",
            "CHATCENTRE_EMAIL_SCAN_SECONDS": "0.2",
            "CHATCENTRE_EMAIL_IDLE_SECONDS": "1",
            "CHATCENTRE_EMAIL_LOCK_RETRY_SECONDS": "0.2",
        }
        self.out = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "worker"],
            cwd=ROOT,
            env=env,
            stdout=self.out,
            stderr=subprocess.STDOUT,
        )

    @property
    def leads(self) -> bool:
        return LEADING in self.log.read_bytes()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.out.close()


@pytest.fixture
def workers(run: Running, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started = [WorkerProcess(run.ctx.database_url, tmp_path / f"worker{n}.log") for n in (1, 2)]
    yield started
    for w in started:
        w.kill()


async def test_two_processes_one_reads_and_the_other_takes_over(
    run: Running, dovecot: Dovecot, smtp: SmtpServer, workers: list[WorkerProcess]
) -> None:
    admin, user, _ = await connect(run, dovecot, smtp)
    await until(lambda: any(w.leads for w in workers), timeout=60)
    await asyncio.sleep(1.5)  # the standby has tried many times by now
    assert [w.leads for w in workers].count(True) == 1
    leader, standby = workers if workers[0].leads else workers[::-1]

    for n in range(5):
        dovecot.append(user, mail(body=f"mail {n}")[0])
    await until(lambda: _count(run, admin, 5))
    leader.kill()
    await until(lambda: standby.leads, timeout=30)
    dovecot.append(user, mail(body="after the hand-over")[0])
    await until(lambda: _count(run, admin, 6), timeout=30)
    texts = [m["text"] for m in await all_messages(run.client, admin)]
    assert texts == [f"mail {n}" for n in range(5)] + ["after the hand-over"]


async def _count(run: Running, admin: str, n: int) -> bool:
    return len(await all_messages(run.client, admin)) == n
