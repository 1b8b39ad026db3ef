"""A mailbox channel's servers, read from the channel's credentials and settings per call.

credentials: {"username", "password"} for both servers, or "imap_username"/"imap_password"
  and "smtp_username"/"smtp_password" where they differ. A username may be a setting
  instead (the same keys): it is no secret, so the app keeps it readable there.
  For OAuth 2.0 mailboxes (Gmail, Microsoft 365, Yandex 360) "oauth2_token" (or
  imap_/smtp_oauth2_token) is a current access token, sent with SASL XOAUTH2 instead of
  the password; refreshing it is the app's.
settings:
  address          the mailbox address we send from and are written to (required)
  from_name        the company's name in From (an operator's name may come per message)
  imap_host, imap_port, imap_security   security: "tls" (implicit, 993), "starttls" (143),
  smtp_host, smtp_port, smtp_security   "plain" or "none" (no TLS: local servers and tests);
                                        SMTP defaults: "starttls" on 587, "tls" on 465
  imap_folder      the folder read (INBOX)
  mark_seen        set \\Seen on a mail once it is read (off: the mailbox stays as it is)
  move_to          move a mail to this folder once it is read (off by default)
  delete_after_read  delete a mail once it is read (off by default)
  idle             use IMAP IDLE where the server offers it (on by default)
  poll_interval    seconds between checks without IDLE (60)
  max_attachment_bytes   files over this are recorded with a note, not stored (10 MiB)
  max_message_bytes      a mail over this is read by its headers only, with a note (50 MiB)
  import_existing  a new channel reads the mail already in the folder (off: from now on)
  tls_ca_file      a CA bundle to trust (a company's own CA); tls_verify: false trusts any
                   certificate (self-signed servers; the channel's owner decides)
  timeout          seconds for one server command (30)"""

import ssl
from dataclasses import dataclass
from typing import Any

from connectors.base import PermanentError

SECURITY = ("tls", "starttls", "plain", "none")
_DEFAULT_PORTS = {
    ("imap", "tls"): 993,
    ("imap", "starttls"): 143,
    ("imap", "plain"): 143,
    ("smtp", "tls"): 465,
    ("smtp", "starttls"): 587,
    ("smtp", "plain"): 25,
}


@dataclass(frozen=True, slots=True)
class Server:
    host: str
    port: int
    security: str
    username: str | None
    password: str | None
    oauth2_token: str | None
    timeout: float
    tls: ssl.SSLContext | None

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def server(kind: str, credentials: dict[str, Any], settings: dict[str, Any]) -> Server:
    """kind: "imap" or "smtp". A missing host or an unknown security is the channel's
    configuration, so it is a PermanentError (retrying cannot fix it)."""
    host = settings.get(f"{kind}_host")
    if not host:
        raise PermanentError(f"The email channel has no {kind}_host")
    security = str(settings.get(f"{kind}_security") or "tls").lower()
    if security not in SECURITY:
        raise PermanentError(f"{kind}_security must be one of {', '.join(SECURITY)}")
    security = "plain" if security == "none" else security
    port = settings.get(f"{kind}_port") or _DEFAULT_PORTS[(kind, security)]
    username = (
        credentials.get(f"{kind}_username")
        or settings.get(f"{kind}_username")
        or credentials.get("username")
        or settings.get("username")
    )
    password = credentials.get(f"{kind}_password") or credentials.get("password")
    token = credentials.get(f"{kind}_oauth2_token") or credentials.get("oauth2_token")
    return Server(
        host=str(host),
        port=int(port),
        security=security,
        username=str(username) if username else None,
        password=str(password) if password else None,
        oauth2_token=str(token) if token else None,
        timeout=float(settings.get("timeout") or 30.0),
        tls=tls_context(settings) if security != "plain" else None,
    )


def tls_context(settings: dict[str, Any]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=settings.get("tls_ca_file") or None)
    if settings.get("tls_verify") is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def address(settings: dict[str, Any]) -> str:
    value = str(settings.get("address") or "").strip().lower()
    if "@" not in value:
        raise PermanentError("The email channel has no sending address (settings.address)")
    return value


def max_attachment_bytes(settings: dict[str, Any], default: int) -> int:
    value = settings.get("max_attachment_bytes")
    return int(value) if isinstance(value, int | float) and value > 0 else default
