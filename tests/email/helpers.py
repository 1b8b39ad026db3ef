"""Talking to the app as an admin connecting a mailbox, and to the mailbox as clients do."""

import asyncio
import time
import uuid
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx

from tests.connectors.email.servers import PASSWORD, Dovecot, SmtpServer
from tests.helpers import auth

SMTP_USER = "support@shop.example"  # the login tests/connectors/email/servers.py accepts


def mailbox_settings(dovecot: Dovecot, smtp: SmtpServer, user: str, **extra: Any) -> dict[str, Any]:
    return {
        "address": "support@shop.example",
        "from_name": "Example Shop",
        "imap_host": "127.0.0.1",
        "imap_port": dovecot.port,
        "imap_security": "none",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_security": "none",
        "username": user,
        "smtp_username": SMTP_USER,
        "idle": True,
        "timeout": 10,
        "rate_per_account": "100000/second",
        "rate_per_chat": "100000/second",
        **extra,
    }


async def create_mailbox(
    client: httpx.AsyncClient,
    admin: str,
    dovecot: Dovecot,
    smtp: SmtpServer,
    user: str,
    password: str = PASSWORD,
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        "/api/v1/channels",
        json={
            "type": "email",
            "name": "Support mailbox",
            "settings": mailbox_settings(dovecot, smtp, user, **extra),
            "credentials": {"password": password},
        },
        headers=auth(admin),
    )


def mail(
    sender: str = "client@example.com",
    subject: str = "Hello",
    body: str = "Where is my order?",
    *,
    name: str = "Client",
    headers: dict[str, str] | None = None,
    to: str = "support@shop.example",
) -> tuple[bytes, str]:
    """A plain mail and its Message-ID (without brackets)."""
    msgid = f"{uuid.uuid4().hex}@example.com"
    lines = [
        f"From: {name} <{sender}>",
        f"To: {to}",
        f"Subject: {subject}",
        f"Message-ID: <{msgid}>",
        "Date: Sat, 05 Dec 2026 10:00:00 +0000",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        *[f"{k}: {v}" for k, v in (headers or {}).items()],
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode(), msgid


async def until(check: Callable[[], Any], timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def conversations(client: httpx.AsyncClient, admin: str) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/conversations", headers=auth(admin))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def messages(client: httpx.AsyncClient, admin: str, conversation_id: int) -> list[Any]:
    r = await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=auth(admin))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def all_messages(client: httpx.AsyncClient, admin: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for conv in sorted(await conversations(client, admin), key=lambda c: c["id"]):
        found += await messages(client, admin, conv["id"])
    return found


def received(smtp: SmtpServer, index: int = 0) -> EmailMessage:
    parsed = message_from_bytes(smtp.handler.received[index].content, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed
