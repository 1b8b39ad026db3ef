"""Replies and chain notices leave through the channel's real SMTP server (aiosmtpd) as
proper mail; a delivery status report read from the mailbox marks ours failed."""

from typing import Any

from tests.attachments.support import uploaded
from tests.chains.support import post_event, put_order, shop_key
from tests.conftest import Running
from tests.connectors.email.conftest import fixture
from tests.connectors.email.servers import Dovecot, SmtpServer
from tests.email.helpers import conversations, mail, messages, received, until
from tests.email.test_inbound import connect
from tests.helpers import auth

PDF = b"%PDF-1.4\n% a tiny invoice\n"


async def test_an_operator_reply_is_a_proper_mail_with_an_attachment(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    admin, user, _ = await connect(run, dovecot, smtp)
    raw, first_id = mail(subject="Question about 42", headers={"References": "<root@example.com>"})
    dovecot.append(user, raw)
    [conv] = await until(lambda: conversations(run.client, admin))
    invoice = await uploaded(run.client, auth(admin), "Счёт.pdf", PDF)
    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages",
        json={"text": "Here is your invoice.\n\nBest, Admin", "attachment_ids": [invoice["id"]]},
        headers=auth(admin),
    )
    assert r.status_code in (200, 201), r.text
    await until(lambda: smtp.handler.received)
    envelope = smtp.handler.received[0]
    assert envelope.mail_from == "support@shop.example"
    assert envelope.rcpt_tos == ["client@example.com"]
    sent = received(smtp)
    assert str(sent["From"]) == "admin <support@shop.example>"  # the operator's name
    assert str(sent["To"]) == "client@example.com"
    assert str(sent["Subject"]) == "Re: Question about 42"
    assert str(sent["In-Reply-To"]) == f"<{first_id}>"
    assert str(sent["References"]) == f"<root@example.com> <{first_id}>"
    assert sent["Message-ID"] and sent["Date"]
    body = sent.get_body(("plain",))
    html = sent.get_body(("html",))
    assert body is not None and "Here is your invoice." in body.get_content()
    assert html is not None and "<p>Here is your invoice.</p>" in html.get_content()
    [attachment] = list(sent.iter_attachments())
    assert attachment.get_filename() == "Счёт.pdf"
    assert attachment.get_content() == PDF
    # The stored reply knows its Message-ID (what a bounce or the client's reply names).
    ours = (await messages(run.client, admin, conv["id"]))[-1]
    await until(lambda: _state_is(run, admin, conv["id"], "sent"))
    assert ours["subject"] == "Re: Question about 42"


async def _state_is(run: Running, admin: str, conversation_id: int, state: str) -> Any:
    last = (await messages(run.client, admin, conversation_id))[-1]
    return last if last["delivery_state"] == state else None


async def test_a_bounce_marks_the_reply_failed_with_its_reason(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    admin, user, _ = await connect(run, dovecot, smtp)
    raw, _ = mail(sender="nobody@example.org")
    dovecot.append(user, raw)
    [conv] = await until(lambda: conversations(run.client, admin))
    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages",
        json={"text": "Hello?"},
        headers=auth(admin),
    )
    assert r.status_code in (200, 201), r.text
    await until(lambda: _state_is(run, admin, conv["id"], "sent"))
    our_id = str(received(smtp)["Message-ID"]).strip("<>")
    dsn = fixture("bounce_dsn.eml").replace(b"chatcentre.42.abc@shop.example", our_id.encode())
    dovecot.append(user, dsn)
    failed = await until(lambda: _state_is(run, admin, conv["id"], "failed"))
    assert "5.1.1" in failed["failure_reason"]
    assert "User unknown" in failed["failure_reason"]
    # The report itself is no message of the client's.
    assert len(await messages(run.client, admin, conv["id"])) == 2


async def test_a_chain_notice_reaches_a_shop_client_by_email_with_a_subject(
    run: Running, dovecot: Dovecot, smtp: SmtpServer
) -> None:
    admin, _, channel = await connect(
        run, dovecot, smtp, chain_subjects={"accepted": "Order {order} is accepted"}
    )
    key = await shop_key(run.client, admin)
    # The client never wrote: the shop's email finds the way (email may write first).
    await put_order(
        run.client,
        key,
        "4521",
        client={"email": "Anna@Example.com"},
        first_name="Anna",
        language="en",
        promised_date="2026-11-28",
    )
    r = await post_event(run.client, key, "4521", "e1", "accepted")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "sent", r.text
    await until(lambda: smtp.handler.received)
    sent = received(smtp)
    assert smtp.handler.received[0].rcpt_tos == ["anna@example.com"]
    assert str(sent["Subject"]) == "Order 4521 is accepted"
    assert str(sent["From"]) == "Example Shop <support@shop.example>"
    assert str(sent["Auto-Submitted"]) == "auto-generated"
    assert sent["In-Reply-To"] is None
    body = sent.get_body(("plain",))
    assert body is not None and "4521" in body.get_content()
    [conv] = await conversations(run.client, admin)
    assert conv["channel_id"] == channel["id"]
