from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.connectors.email.servers import (
    Certs,
    Dovecot,
    SmtpServer,
    make_certs,
    run_dovecot,
    run_smtp,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "email"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """Dovecot with IDLE (its default capabilities), plain + STARTTLS and implicit TLS."""
    with run_dovecot() as server:
        yield server


@pytest.fixture(scope="session")
def dovecot_without_idle() -> Iterator[Dovecot]:
    """The same server announcing neither IDLE nor MOVE after login: the reader must poll,
    and move by COPY, \\Deleted and UID EXPUNGE."""
    with run_dovecot("imap_capability = IMAP4rev1 LITERAL+ UIDPLUS") as server:
        yield server


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def smtp(certs: Certs) -> Iterator[SmtpServer]:
    with run_smtp(certs, "plain") as server:
        yield server
