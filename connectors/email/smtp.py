"""One mail out through the channel's SMTP server (aiosmtplib), its failure sorted into
"try again later" and "this will never go".

SMTP says which it is: 4xx replies are transient (greylisting, a full queue, a rate limit),
5xx are permanent (RFC 5321 4.2.1). Not reaching the server, or losing it mid-way, is
transient. A refused recipient (550 5.1.1) marks the address unreachable."""

import ssl
from collections.abc import Coroutine
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from aiosmtplib import errors

from connectors.base import PermanentError, TemporaryError
from connectors.email.account import Server


def _client_options(server: Server) -> dict[str, Any]:
    options: dict[str, Any] = {
        "hostname": server.host,
        "port": server.port,
        "username": server.username,
        "password": None if server.oauth2_token else server.password,
        "use_tls": server.security == "tls",
        "start_tls": server.security == "starttls",
        "tls_context": server.tls,
        "timeout": server.timeout,
    }
    if server.oauth2_token:
        token = server.oauth2_token

        async def current_token() -> str:
            return token

        options["oauth_token_generator"] = current_token
    return options


async def send_mail(server: Server, mail: EmailMessage, sender: str, recipient: str) -> None:
    await _guarded(
        server,
        aiosmtplib.send(mail, sender=sender, recipients=[recipient], **_client_options(server)),
    )


async def check_login(server: Server) -> None:
    """Connect, secure and log in, then leave: a channel's SMTP settings checked before they
    are stored. Fails as send_mail does (a refused login is a PermanentError)."""

    async def login_and_quit() -> None:
        async with aiosmtplib.SMTP(**_client_options(server)) as client:
            await client.noop()

    await _guarded(server, login_and_quit())


async def _guarded(server: Server, call: Coroutine[Any, Any, Any]) -> None:
    """Awaits an aiosmtplib call with its errors sorted into temporary and permanent."""
    try:
        await call
    except errors.SMTPRecipientsRefused as exc:
        raise _refused(exc.recipients[0] if exc.recipients else None) from None
    except errors.SMTPRecipientRefused as exc:
        raise _refused(exc) from None
    except errors.SMTPAuthenticationError as exc:
        if 400 <= exc.code < 500:
            raise TemporaryError(f"SMTP login deferred: {exc.code} {exc.message}") from None
        raise PermanentError(f"SMTP login failed: {exc.code} {exc.message}") from None
    except errors.SMTPResponseException as exc:
        raise _by_code(exc.code, exc.message) from None
    except errors.SMTPNotSupported as exc:  # e.g. STARTTLS asked of a server without it
        raise PermanentError(f"SMTP server {server.label}: {exc}") from None
    except (errors.SMTPException, OSError, TimeoutError) as exc:
        untrusted = _certificate_error(exc)
        if untrusted is not None:  # the channel's configuration: retrying will not help
            raise PermanentError(
                f"SMTP server {server.label}: its TLS certificate is not trusted "
                f"({untrusted.verify_message})"
            ) from None
        raise TemporaryError(f"SMTP server {server.label} unreachable: {exc}") from None


def _certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """aiosmtplib wraps the handshake's error in SMTPConnectError."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _by_code(code: int, message: str) -> TemporaryError | PermanentError:
    text = f"SMTP {code}: {message}"
    if 400 <= code < 500:
        return TemporaryError(text)
    return PermanentError(text)


def _refused(exc: errors.SMTPRecipientRefused | None) -> TemporaryError | PermanentError:
    if exc is None:
        return PermanentError("SMTP refused the recipient", recipient_unreachable=True)
    text = f"SMTP {exc.code}: {exc.message} ({exc.recipient})"
    if 400 <= exc.code < 500:
        return TemporaryError(text)
    return PermanentError(text, recipient_unreachable=True)
