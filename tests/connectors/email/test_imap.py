"""MailboxReader against Dovecot: new mail by UID, IDLE and polling, UIDVALIDITY changes,
nothing marked read unless configured, TLS modes, and attachments read back on demand."""

import asyncio
import time
from typing import Any

import pytest

from connectors.base import MediaUnavailable, PermanentError, TemporaryError
from connectors.email.connector import EmailConnector, read_mail
from connectors.email.imap import MailboxReader, MailboxState
from connectors.email.imap_wire import mailbox_name
from connectors.email.parse import parse_email
from tests.connectors.email.conftest import fixture
from tests.connectors.email.servers import (
    OAUTH2_TOKEN,
    PASSWORD,
    Dovecot,
    free_port,
    run_dovecot,
    run_dovecot_with_oauth2,
)


def mail(n: int, subject: str = "Hello") -> bytes:
    return (
        f"From: Client {n} <client{n}@example.com>\r\nTo: support@shop.example\r\n"
        f"Subject: {subject} {n}\r\nMessage-ID: <m{n}.{time.time_ns()}@example.com>\r\n"
        f"Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\nText {n}\r\n"
    ).encode()


def credentials(user: str) -> dict[str, Any]:
    return {"username": user, "password": PASSWORD}


def texts(batch_mails: list[Any]) -> list[str | None]:
    out = []
    for m in batch_mails:
        parsed = parse_email(m.raw, location=m.location).message
        assert parsed is not None
        out.append(parsed.text)
    return out


async def test_a_new_channel_starts_at_the_end_and_reads_only_new_mail(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    dovecot.append(user, mail(1))
    async with MailboxReader(credentials(user), dovecot.settings()) as box:
        first = await box.fetch_new(MailboxState())
        assert first.mails == []  # old mail opens no leads
        assert first.state.uidvalidity == box.uidvalidity
        assert first.state.last_uid == 1
        dovecot.append(user, mail(2))
        dovecot.append(user, mail(3))
        batch = await box.fetch_new(first.state)
    assert [m.uid for m in batch.mails] == [2, 3]
    assert texts(batch.mails) == ["Text 2", "Text 3"]
    assert batch.state.last_uid == 3 and not batch.reset and not batch.more
    assert batch.mails[0].location.folder == "INBOX"
    # Nothing was marked read: BODY.PEEK on a folder opened read-only.
    assert all("\\Seen" not in flags for flags in dovecot.flags(user).values())


async def test_import_existing_reads_in_batches(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    for n in range(1, 6):
        dovecot.append(user, mail(n))
    settings = dovecot.settings(import_existing=True)
    async with MailboxReader(credentials(user), settings) as box:
        one = await box.fetch_new(MailboxState(), limit=3)
        assert [m.uid for m in one.mails] == [1, 2, 3] and one.more
        two = await box.fetch_new(one.state, limit=3)
        assert [m.uid for m in two.mails] == [4, 5] and not two.more
        three = await box.fetch_new(two.state)
        assert three.mails == [] and three.state.last_uid == 5


async def test_idle_wakes_up_on_new_mail(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    async with MailboxReader(credentials(user), dovecot.settings()) as box:
        assert box.can_idle
        state = (await box.fetch_new(MailboxState())).state
        started = time.monotonic()
        waiting = asyncio.create_task(box.wait_for_news(max_wait=60))
        await asyncio.sleep(0.5)
        assert not waiting.done()
        await asyncio.to_thread(dovecot.append, user, mail(1))
        assert await asyncio.wait_for(waiting, 15) is True
        assert time.monotonic() - started < 15  # woken by the push, not by the timeout
        batch = await box.fetch_new(state)
        assert texts(batch.mails) == ["Text 1"]
        # IDLE ends cleanly: the connection keeps working, and a quiet wait times out.
        assert await box.wait_for_news(max_wait=1) is False


async def test_a_server_hanging_up_ends_the_wait_at_once() -> None:
    with run_dovecot() as server:
        user = server.new_user()
        box = MailboxReader(credentials(user), server.settings())
        await box.connect()
        waiting = asyncio.create_task(box.wait_for_news(max_wait=120))
        await asyncio.sleep(0.5)
        server.stop()
        with pytest.raises(TemporaryError, match="closed the connection"):
            await asyncio.wait_for(waiting, 15)
        assert not box.connected
        with pytest.raises(TemporaryError):
            await box.fetch_new(MailboxState(box.uidvalidity, 0))
        await box.close()


async def test_polling_when_the_server_has_no_idle(dovecot_without_idle: Dovecot) -> None:
    server = dovecot_without_idle
    user = server.new_user()
    async with MailboxReader(credentials(user), server.settings(poll_interval=0.2)) as box:
        assert not box.can_idle
        state = (await box.fetch_new(MailboxState())).state
        server.append(user, mail(1))
        started = time.monotonic()
        assert await box.wait_for_news() is True
        assert time.monotonic() - started < 5
        batch = await box.fetch_new(state)
        assert texts(batch.mails) == ["Text 1"]


async def test_idle_can_be_turned_off(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    async with MailboxReader(credentials(user), dovecot.settings(idle=False)) as box:
        assert not box.can_idle


async def test_uidvalidity_change_reads_the_folder_again(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    dovecot.command(user, ("create", "Support"))
    first, second = mail(1), mail(2)
    dovecot.append(user, first, "Support")
    dovecot.append(user, second, "Support")
    settings = dovecot.settings(imap_folder="Support", import_existing=True)
    async with MailboxReader(credentials(user), settings) as box:
        before = await box.fetch_new(MailboxState())
    assert len(before.mails) == 2
    # The folder is recreated (a migration, a restore): the same mail and one new, new UIDs.
    await asyncio.sleep(1.1)  # Dovecot's UIDVALIDITY is time-based
    dovecot.command(user, ("delete", "Support"), ("create", "Support"))
    third = mail(3)
    for raw in (first, second, third):
        dovecot.append(user, raw, "Support")
    async with MailboxReader(credentials(user), settings) as box:
        assert box.uidvalidity != before.state.uidvalidity
        after = await box.fetch_new(before.state)
    assert after.reset
    assert after.state.uidvalidity != before.state.uidvalidity
    assert after.state.last_uid == 3
    ids_before = {parse_email(m.raw).message.external_id for m in before.mails}  # type: ignore[union-attr]
    ids_after = [parse_email(m.raw).message.external_id for m in after.mails]  # type: ignore[union-attr]
    # All three come again; the two already ingested carry the same Message-IDs (the
    # app stores them once), the new one is new.
    assert len(ids_after) == 3
    assert ids_before < set(ids_after)


async def test_mark_seen_when_configured(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    settings = dovecot.settings(mark_seen=True)
    async with MailboxReader(credentials(user), settings) as box:
        state = (await box.fetch_new(MailboxState())).state
        dovecot.append(user, mail(1))
        dovecot.append(user, mail(2))
        batch = await box.fetch_new(state)
        assert all("\\Seen" not in f for f in dovecot.flags(user).values())  # PEEK even here
        await box.mark_processed([batch.mails[0].uid])
    flags = dovecot.flags(user)
    assert "\\Seen" in flags[1] and "\\Seen" not in flags[2]


async def test_move_to_folder_when_configured(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    # The test's own client (the standard library's) wants the name in modified UTF-7.
    wire_name = "&" + "Обработано".encode("utf-7").decode()[1:]
    dovecot.command(user, ("create", wire_name))
    settings = dovecot.settings(move_to="Обработано")
    async with MailboxReader(credentials(user), settings) as box:
        state = (await box.fetch_new(MailboxState())).state
        dovecot.append(user, mail(1))
        batch = await box.fetch_new(state)
        await box.mark_processed([m.uid for m in batch.mails])
    assert dovecot.flags(user) == {}
    assert len(dovecot.flags(user, wire_name)) == 1


async def test_move_without_the_move_extension(dovecot_without_idle: Dovecot) -> None:
    server = dovecot_without_idle
    user = server.new_user()
    server.command(user, ("create", "Done"))
    settings = server.settings(move_to="Done", mark_seen=True)
    async with MailboxReader(credentials(user), settings) as box:
        assert not box._imap.has_capability("MOVE")
        state = (await box.fetch_new(MailboxState())).state
        server.append(user, mail(1))
        server.append(user, mail(2))
        batch = await box.fetch_new(state)
        await box.mark_processed([batch.mails[0].uid])
    assert list(server.flags(user)) == [2]  # the first is gone from INBOX, the second stays
    moved = server.flags(user, "Done")
    assert len(moved) == 1 and "\\Seen" in next(iter(moved.values()))


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_modes(dovecot: Dovecot, security: str) -> None:
    user = dovecot.new_user()
    port = dovecot.tls_port if security == "tls" else dovecot.port
    settings = dovecot.settings(imap_security=security, imap_port=port)
    async with MailboxReader(credentials(user), settings) as box:
        assert box.uidvalidity is not None
        dovecot.append(user, mail(1))
        batch = await box.fetch_new(MailboxState(box.uidvalidity, 0))
        assert texts(batch.mails) == ["Text 1"]


async def test_untrusted_certificate_is_permanent(dovecot: Dovecot) -> None:
    settings = dovecot.settings(imap_security="tls", imap_port=dovecot.tls_port, tls_ca_file=None)
    with pytest.raises(PermanentError, match="not trusted"):
        await MailboxReader(credentials(dovecot.new_user()), settings).connect()


async def test_missing_folder_is_permanent(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    with pytest.raises(PermanentError, match="folder"):
        await MailboxReader(credentials(user), dovecot.settings(imap_folder="Nope")).connect()


async def test_wrong_password_is_permanent() -> None:
    # A server of its own: Dovecot slows down logins from an address after a failure.
    with run_dovecot() as server:
        user = server.new_user()
        with pytest.raises(PermanentError, match="login"):
            await MailboxReader(
                {"username": user, "password": "wrong"}, server.settings()
            ).connect()


async def test_unreachable_server_is_temporary(dovecot: Dovecot) -> None:
    settings = dovecot.settings(imap_port=free_port(), timeout=3)
    with pytest.raises(TemporaryError):
        await MailboxReader(credentials("user1"), settings).connect()


async def test_fetch_media_reads_an_attachment_back(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    dovecot.append(user, fixture("rfc2231_attachments.eml"))
    settings = dovecot.settings(import_existing=True)
    async with MailboxReader(credentials(user), settings) as box:
        batch = await box.fetch_new(MailboxState())
    parsed = parse_email(batch.mails[0].raw, location=batch.mails[0].location)
    assert parsed.message is not None
    attachment = parsed.message.attachments[0]
    media = await EmailConnector().fetch_media(credentials(user), settings, attachment)
    assert media.filename == "Счёт №1042.pdf"
    assert media.content_type == "application/pdf"
    assert media.content == parsed.files[0]
    gone = attachment | {"imap": attachment["imap"] | {"uidvalidity": 1}}
    with pytest.raises(MediaUnavailable):
        await EmailConnector().fetch_media(credentials(user), settings, gone)
    with pytest.raises(MediaUnavailable, match="limit"):
        await EmailConnector().fetch_media(
            credentials(user), settings, attachment | {"too_large": True, "note": "over limit"}
        )


async def test_a_mail_over_the_size_limit_is_read_by_its_headers(dovecot: Dovecot) -> None:
    user = dovecot.new_user()
    settings = dovecot.settings(import_existing=True, max_message_bytes=2000)
    small, big = mail(1), fixture("attachment_too_big.eml")
    dovecot.append(user, small)
    dovecot.append(user, big)
    async with MailboxReader(credentials(user), settings) as box:
        batch = await box.fetch_new(MailboxState())
    first, second = batch.mails
    assert not first.headers_only and first.raw == small
    assert second.headers_only and second.size == len(big)
    assert b"Subject: Scan" in second.raw and b"base64" not in second.raw
    parsed = read_mail(second.raw, settings, second.location, second.size)
    assert parsed.message is not None
    assert parsed.message.external_id == "big-1@example.com"  # still exactly once
    assert parsed.message.text == "Scan"  # the subject stands in for the unread body
    assert parsed.message.meta["too_large"]["size"] == len(big)


async def test_oauth2_token_instead_of_a_password() -> None:
    with run_dovecot_with_oauth2({OAUTH2_TOKEN: "user1"}) as server:
        good = {"username": "user1", "oauth2_token": OAUTH2_TOKEN}
        async with MailboxReader(good, server.settings()) as box:
            assert box.uidvalidity is not None
        bad = {"username": "user1", "oauth2_token": "expired"}
        started = time.monotonic()
        with pytest.raises(PermanentError, match="login"):
            await MailboxReader(bad, server.settings()).connect()
        assert time.monotonic() - started < 5  # refused, not timed out


def test_state_round_trips_through_json() -> None:
    state = MailboxState(uidvalidity=123, last_uid=45, checked_on="2026-12-05")
    assert MailboxState.from_dict(state.as_dict()) == state
    assert MailboxState.from_dict(None) == MailboxState()


def test_folder_names_are_modified_utf7() -> None:
    assert mailbox_name("INBOX") == '"INBOX"'
    assert mailbox_name("Входящие") == '"&BBIERQQ+BDQETwRJBDgENQ-"'
    assert mailbox_name("A&B") == '"A&-B"'
