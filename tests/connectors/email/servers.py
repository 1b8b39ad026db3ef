"""Real mail servers for the email tests, started in a temporary directory and stopped after:
Debian's Dovecot (IMAP; /usr/sbin/dovecot, CI installs dovecot-imapd) and aiosmtpd (SMTP).
Nothing system-wide is configured: the config, the users, the mail and the sockets all
live in the temporary directory, on free ports of 127.0.0.1."""

import base64
import contextlib
import datetime
import imaplib
import ipaddress
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "secret-pass"
OAUTH2_TOKEN = "ya29.test-access-token"
USERS = [f"user{i}" for i in range(1, 61)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Certs:
    ca: Path
    cert: Path
    key: Path


def make_certs(directory: Path) -> Certs:
    """A CA and a server certificate for 127.0.0.1 signed by it: clients verify for real."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chatcentre test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certs(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@dataclass
class Dovecot:
    root: Path
    port: int  # plain IMAP, STARTTLS offered
    tls_port: int  # implicit TLS
    certs: Certs
    process: subprocess.Popen[bytes] | None = None
    _next_user: int = 0

    def new_user(self) -> str:
        """A mailbox no other test touched."""
        user = USERS[self._next_user]
        self._next_user += 1
        return user

    def settings(self, **overrides: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "address": "support@shop.example",
            "imap_host": "127.0.0.1",
            "imap_port": self.port,
            "imap_security": "plain",
            "timeout": 10,
            "tls_ca_file": str(self.certs.ca),
        }
        return values | overrides

    def client(self, user: str) -> imaplib.IMAP4:
        """The test's own view of a mailbox (the standard library's client)."""
        imap = imaplib.IMAP4("127.0.0.1", self.port)
        imap.login(user, PASSWORD)
        return imap

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        imap = self.client(user)
        try:
            status, _ = imap.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert status == "OK", status
        finally:
            imap.logout()

    def flags(self, user: str, folder: str = "INBOX") -> dict[int, str]:
        imap = self.client(user)
        try:
            imap.select(folder, readonly=True)
            status, data = imap.uid("FETCH", "1:*", "(UID FLAGS)")
            assert status == "OK"
            result: dict[int, str] = {}
            for item in data:
                if isinstance(item, bytes) and b"UID" in item:
                    text = item.decode()
                    uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                    result[uid] = text.split("FLAGS (")[1].split(")")[0]
            return result
        finally:
            imap.logout()

    def command(self, user: str, *commands: tuple[str, ...]) -> None:
        imap = self.client(user)
        try:
            for name, *args in commands:
                status, data = getattr(imap, name)(*args)
                assert status == "OK", (name, data)
        finally:
            imap.logout()

    def stop(self) -> None:
        """Dovecot and every process it started (the per-client imap processes outlive the
        master otherwise): they are in a session of their own."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _config(root: Path, port: int, tls_port: int, certs: Certs, extra: str) -> str:
    if os.geteuid() == 0:
        # Dovecot refuses to give root mail access: mail belongs to "nobody".
        users = "mail_uid = nobody\nmail_gid = nogroup\n"
    else:
        me = pwd.getpwuid(os.geteuid()).pw_name
        users = f"default_login_user = {me}\ndefault_internal_user = {me}\n"
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{certs.cert}
ssl_key = <{certs.key}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 0
first_valid_gid = 0
{users}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = home={root}/home/%u
}}
mail_location = maildir:~/Maildir
imap_idle_notify_interval = 1 secs
auth_failure_delay = 0
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
}}
{extra}
"""


@contextlib.contextmanager
def run_dovecot(extra_config: str = "") -> Iterator[Dovecot]:
    if not os.path.exists(DOVECOT):
        raise RuntimeError(f"{DOVECOT} is missing: apt-get install dovecot-imapd")
    root = Path(tempfile.mkdtemp(prefix="dovecot-"))  # short: socket paths have a limit
    try:
        root.chmod(0o755)  # the mail user ("nobody" under root) reaches its home through it
        (root / "home").mkdir()
        certs = make_certs(root)
        (root / "passwd").write_text("".join(f"{u}:{{PLAIN}}{PASSWORD}::::::\n" for u in USERS))
        if os.geteuid() == 0:
            shutil.chown(root / "home", "nobody", "nogroup")
        port, tls_port = free_port(), free_port()
        conf = root / "dovecot.conf"
        conf.write_text(_config(root, port, tls_port, certs, extra_config))
        process = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], start_new_session=True)
        server = Dovecot(root, port, tls_port, certs, process)
        _wait_for_port(port, process, server)
        yield server
    finally:
        if "server" in locals():
            server.stop()
        elif "process" in locals():
            process.kill()
            process.wait(5)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], server: Dovecot) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited: {server.log()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"dovecot did not listen: {server.log()}")


# ------------------------------------------------------------------------------- SMTP


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class SmtpHandler:
    """Accepts everything except the recipients it is told to refuse, with their replies."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """aiosmtpd offers a handler's auth_<NAME> methods as SASL mechanisms."""
        raw = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
        ok = raw == f"user=support@shop.example\x01auth=Bearer {OAUTH2_TOKEN}\x01\x01"
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"support@shop.example"
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # False: aiosmtpd answers 535 itself


@dataclass
class SmtpServer:
    port: int
    handler: SmtpHandler
    security: str

    def settings(self, certs: Certs, **overrides: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "address": "support@shop.example",
            "from_name": "Example Shop",
            "smtp_host": "127.0.0.1",
            "smtp_port": self.port,
            "smtp_security": self.security,
            "timeout": 10,
            "tls_ca_file": str(certs.ca),
        }
        return values | overrides


@contextlib.contextmanager
def run_smtp(certs: Certs, security: str = "plain") -> Iterator[SmtpServer]:
    """security: "plain" (AUTH allowed without TLS), "starttls" or "tls" (implicit)."""
    handler = SmtpHandler()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.cert, certs.key)
    port = free_port()
    kwargs: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "port": port,
        "authenticator": _authenticator,
        "auth_require_tls": security == "starttls",  # implicit TLS is TLS from the start
    }
    if security == "starttls":
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
    elif security == "tls":
        kwargs["ssl_context"] = context
    controller = Controller(handler, **kwargs)
    controller.start()
    try:
        yield SmtpServer(port, handler, security)
    finally:
        controller.stop()


# ----------------------------------------------------------------------------- OAuth 2.0


class _Introspection(BaseHTTPRequestHandler):
    """RFC 7662 token introspection, as Dovecot's oauth2 passdb asks it."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        token = parse_qs(body).get("token", [""])[0]
        user = self.server.tokens.get(token)  # type: ignore[attr-defined]
        answer = {"active": True, "username": user} if user else {"active": False}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def run_dovecot_with_oauth2(tokens: dict[str, str]) -> Iterator[Dovecot]:
    """Dovecot that also takes SASL XOAUTH2, checking tokens (token -> user) with a local
    introspection endpoint."""
    http = HTTPServer(("127.0.0.1", free_port()), _Introspection)
    http.tokens = tokens  # type: ignore[attr-defined]
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    ext = Path(tempfile.mkdtemp(prefix="oauth2-")) / "oauth2.conf.ext"
    ext.write_text(
        "introspection_mode = post\n"
        f"introspection_url = http://127.0.0.1:{http.server_address[1]}/introspect\n"
        "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
    )
    extra = (
        "auth_mechanisms = plain login xoauth2 oauthbearer\n"
        f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {ext}\n}}\n"
    )
    try:
        with run_dovecot(extra) as server:
            yield server
    finally:
        http.shutdown()
        http.server_close()
        shutil.rmtree(ext.parent, ignore_errors=True)
