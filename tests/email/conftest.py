"""Real mail servers for the app-level email tests: Dovecot (IMAP) and aiosmtpd (SMTP),
started in temporary directories by tests/connectors/email/servers.py; the app's own mailbox
readers run fast here."""

from collections.abc import Iterator
from typing import Any

import pytest

from tests.connectors.email.servers import (
    Certs,
    Dovecot,
    SmtpServer,
    make_certs,
    run_dovecot,
    run_smtp,
)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    with run_dovecot() as server:
        yield server


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def smtp(certs: Certs) -> Iterator[SmtpServer]:
    with run_smtp(certs, "plain") as server:
        yield server


def email_settings(**extra: Any) -> dict[str, Any]:
    return {
        "email_scan_seconds": 0.1,
        "email_idle_seconds": 1.0,
        "email_lock_retry_seconds": 0.1,
        "email_error_backoff_seconds": 0.05,
        "max_message_chars": 10000,
        **extra,
    }


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return email_settings()
