"""Connecting a mailbox: both servers are logged in to before anything is stored; the
settings model holds on create and on PATCH; what chatcentre derives is never PATCHed."""

import asyncio
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from tests.conftest import Running
from tests.connectors.email.servers import PASSWORD, Dovecot, SmtpServer
from tests.email.helpers import create_mailbox
from tests.helpers import auth


async def channel_count(run: Running, admin: str) -> int:
    r = await run.client.get("/api/v1/channels", headers=auth(admin))
    return len(r.json())


async def test_a_mailbox_is_checked_with_its_servers_before_it_is_stored(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    admin = await run.admin_token()
    user = dovecot.new_user()
    bad = await create_mailbox(run.client, admin, dovecot, smtp, user, password="wrong")
    assert bad.status_code == 422, bad.text
    assert bad.json()["error"]["code"] == "email_login_failed"
    assert "IMAP" in bad.json()["error"]["message"]
    assert "wrong" not in bad.text
    # The IMAP login works, the SMTP one does not: refused all the same.
    smtp_bad = await create_mailbox(
        run.client, admin, dovecot, smtp, user, smtp_username="nobody@shop.example"
    )
    assert smtp_bad.status_code == 422, smtp_bad.text
    assert "SMTP" in smtp_bad.json()["error"]["message"]
    assert await channel_count(run, admin) == 0

    r = await create_mailbox(run.client, admin, dovecot, smtp, user)
    assert r.status_code == 201, r.text
    channel: dict[str, Any] = r.json()
    assert channel["type"] == "email"
    assert channel["credential_names"] == ["password", "reply_key"]
    assert "secret-pass" not in r.text
    settings = channel["settings"]
    assert settings["uidvalidity"] and settings["last_uid"] == 0
    assert settings["mailbox_key"].startswith(f"{user}@127.0.0.1:")
    assert settings["mark_seen"] is False and settings["delete_after_read"] is False

    # The same mailbox twice: one reader per mailbox, so one channel.
    again = await create_mailbox(run.client, admin, dovecot, smtp, user)
    assert again.status_code == 409, again.text


async def test_settings_are_checked_on_patch_and_derived_ones_are_not_patched(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    admin = await run.admin_token()
    r = await create_mailbox(run.client, admin, dovecot, smtp, dovecot.new_user())
    channel_id = r.json()["id"]
    url = f"/api/v1/channels/{channel_id}"
    for bad in (
        {"imap_security": "ssl-please"},
        {"address": "not an address"},
        {"imap_port": 70000},
        {"poll_interval": 0},
        {"last_uid": 0},
        {"uidvalidity": 1},
        {"mailbox_key": "x"},
    ):
        p = await run.client.patch(url, json={"settings": bad}, headers=auth(admin))
        assert p.status_code == 422, (bad, p.text)
    p = await run.client.patch(
        url, json={"settings": {"mark_seen": True, "from_name": "Shop"}}, headers=auth(admin)
    )
    assert p.status_code == 200, p.text
    assert p.json()["settings"]["mark_seen"] is True
    assert p.json()["settings"]["last_uid"] == r.json()["settings"]["last_uid"]
    # A new password is checked with the servers; a wrong one changes nothing.
    p = await run.client.patch(
        url, json={"credentials": {"password": "wrong"}}, headers=auth(admin)
    )
    assert p.status_code == 422, p.text


async def test_email_is_a_listed_channel_type(run: Running) -> None:
    operator = await run.operator_token()
    r = await run.client.get("/api/v1/channel-types", headers=auth(operator))
    email = next(t for t in r.json() if t["type"] == "email")
    assert email["label"] == "Email"
    assert email["icon"] == "/console/icon-email.svg"
    assert email["capabilities"]["initiates"] and email["capabilities"]["media"]
    assert (await run.client.get("/console/icon-email.svg")).status_code == 200


async def test_cli_adds_a_mailbox(
    run: Running, dovecot: Dovecot, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATCENTRE_DATABASE_URL", run.ctx.database_url)
    monkeypatch.setenv("CHATCENTRE_DATA_DIR", str(run.ctx.settings.data_dir))
    monkeypatch.setenv("CHATCENTRE_EMAIL_PASSWORD", PASSWORD)
    user = dovecot.new_user()
    args = [
        "channel",
        "add",
        "email",
        "--address",
        "support@shop.example",
        "--imap-host",
        "127.0.0.1",
        f"--imap-port={dovecot.port}",
        "--imap-security",
        "none",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(smtp.port),
        "--smtp-security",
        "none",
        "--username",
        user,
    ]
    get_settings.cache_clear()
    try:
        refused = await asyncio.to_thread(CliRunner().invoke, cli, args)  # SMTP says no
        added = await asyncio.to_thread(
            CliRunner().invoke, cli, [*args, "--smtp-username", "support@shop.example"]
        )
        unknown = await asyncio.to_thread(CliRunner().invoke, cli, [*args, "--colour", "red"])
    finally:
        get_settings.cache_clear()
    assert added.exit_code == 0, added.output
    assert "(email) created" in added.output and "mailbox support@shop.example" in added.output
    assert PASSWORD not in added.output
    assert refused.exit_code == 1, refused.output
    assert "SMTP login failed" in refused.output and PASSWORD not in refused.output
    assert unknown.exit_code == 2 and "unknown option '--colour'" in unknown.output
