"""EmailConnector.send against a real SMTP server (aiosmtpd): the reply's headers and
threading, bodies and files, TLS modes, and how failures are sorted."""

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from connectors.base import (
    Connector,
    OutboundFile,
    OutboundMessage,
    PermanentError,
    TemporaryError,
)
from connectors.email.connector import EmailConnector
from connectors.email.parse import parse_email
from tests.connectors.email.servers import (
    OAUTH2_TOKEN,
    PASSWORD,
    Certs,
    SmtpServer,
    free_port,
    run_smtp,
)

CREDENTIALS = {"username": "support@shop.example", "password": PASSWORD}


def received(server: SmtpServer, index: int = -1) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(server.handler.received[index].content)
    assert isinstance(msg, EmailMessage)
    return msg


def reply(**meta: Any) -> OutboundMessage:
    return OutboundMessage(
        message_id=42,
        recipient_external_id="ivan@mail.example",
        text="Добрый день!\n\nЗаказ приедет в пятницу.\nСпасибо, что написали.",
        meta=meta,
    )


def test_it_is_a_connector() -> None:
    connector: Connector = EmailConnector()  # mypy checks the protocol here
    assert connector.channel_type == "email"
    assert connector.max_text_length is None  # a mail is never split


async def test_reply_threads_under_the_clients_mail(smtp: SmtpServer, certs: Certs) -> None:
    result = await EmailConnector().send(
        CREDENTIALS,
        smtp.settings(certs),
        reply(
            subject="RE: Re: Заказ №1042",
            in_reply_to="CAF1042.ivan@mail.example",
            references=["order-1042.start@shop.example", "order-1042.confirm@shop.example"],
            from_name="Анна, Example Shop",
            to_name="Иван Петров",
        ),
    )
    envelope = smtp.handler.received[-1]
    assert envelope.mail_from == "support@shop.example"
    assert envelope.rcpt_tos == ["ivan@mail.example"]
    mail = received(smtp)
    assert mail["Subject"] == "Re: Заказ №1042"
    assert mail["In-Reply-To"] == "<CAF1042.ivan@mail.example>"
    assert mail["References"] == (
        "<order-1042.start@shop.example> <order-1042.confirm@shop.example> "
        "<CAF1042.ivan@mail.example>"
    )
    assert mail["From"].addresses[0].display_name == "Анна, Example Shop"
    assert mail["From"].addresses[0].addr_spec == "support@shop.example"
    assert mail["To"].addresses[0].display_name == "Иван Петров"
    # The id we return is the mail's Message-ID: what replies and bounces name.
    assert result.provider_message_id is not None
    assert mail["Message-ID"] == f"<{result.provider_message_id}>"
    assert result.provider_message_id.endswith("@shop.example")
    assert mail["Date"] is not None
    assert "Auto-Submitted" not in mail
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert "Заказ приедет в пятницу." in plain.get_content()
    assert "<p>Заказ приедет в пятницу.<br>Спасибо, что написали.</p>" in html.get_content()


async def test_the_clients_answer_to_our_reply_threads_back(smtp: SmtpServer, certs: Certs) -> None:
    """Our Message-ID comes back as the client's In-Reply-To; our plus address too."""
    result = await EmailConnector().send(
        CREDENTIALS, smtp.settings(certs), reply(subject="Заказ", reply_token="c42")
    )
    ours = received(smtp)
    assert ours["Reply-To"] == "support+c42@shop.example"
    assert ours["Subject"] == "Заказ"  # a new mail: the subject as given, no "Re:"
    answer = (
        "From: ivan@mail.example\r\nTo: support+c42@shop.example\r\n"
        f"Subject: Re: Заказ\r\nMessage-ID: <ans-1@mail.example>\r\n"
        f"In-Reply-To: {ours['Message-ID']}\r\n\r\nСпасибо!\r\n"
    ).encode()
    inbound = parse_email(answer, mailbox_address="support@shop.example").message
    assert inbound is not None
    assert inbound.reply_to_external_id == result.provider_message_id
    assert inbound.meta["reply_token"] == "c42"


async def test_files_go_as_attachments(smtp: SmtpServer, certs: Certs) -> None:
    message = OutboundMessage(
        message_id=7,
        recipient_external_id="ivan@mail.example",
        text="Счёт во вложении.",
        files=[
            OutboundFile("Счёт №7.pdf", "application/pdf", b"%PDF-1.4 test"),
            OutboundFile("photo.png", "image/png", b"\x89PNG\r\n\x1a\n"),
        ],
        attachments=[{"type": "document", "url": "https://cdn.example/a.pdf", "filename": "a.pdf"}],
    )
    await EmailConnector().send(CREDENTIALS, smtp.settings(certs), message)
    mail = received(smtp)
    files = list(mail.iter_attachments())
    assert [f.get_filename() for f in files] == ["Счёт №7.pdf", "photo.png"]
    assert files[0].get_content() == b"%PDF-1.4 test"
    assert files[1].get_content_type() == "image/png"
    plain = mail.get_body(preferencelist=("plain",))
    assert plain is not None and "a.pdf: https://cdn.example/a.pdf" in plain.get_content()
    # The round trip through our own parser finds the same files.
    parsed = parse_email(smtp.handler.received[-1].content)
    assert parsed.message is not None
    assert [a["filename"] for a in parsed.message.attachments] == ["Счёт №7.pdf", "photo.png"]


async def test_given_html_and_auto_submitted(smtp: SmtpServer, certs: Certs) -> None:
    await EmailConnector().send(
        CREDENTIALS,
        smtp.settings(certs),
        reply(
            subject="Напоминание",
            html="<p><b>Ваш заказ готов</b></p>",
            auto_submitted="auto-generated",
        ),
    )
    mail = received(smtp)
    html = mail.get_body(preferencelist=("html",))
    assert html is not None and "<b>Ваш заказ готов</b>" in html.get_content()
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    # Our own auto mail would be recognised as automated by our parser, too.
    parsed = parse_email(smtp.handler.received[-1].content)
    assert parsed.automated is not None and parsed.automated["kind"] == "auto_reply"


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_modes(certs: Certs, security: str) -> None:
    with run_smtp(certs, security) as server:
        await EmailConnector().send(CREDENTIALS, server.settings(certs), reply(subject="TLS"))
        assert received(server)["Subject"] == "TLS"


async def test_untrusted_certificate_is_permanent(certs: Certs) -> None:
    with run_smtp(certs, "tls") as server:
        settings = server.settings(certs, tls_ca_file=None)
        with pytest.raises(PermanentError, match="not trusted"):
            await EmailConnector().send(CREDENTIALS, settings, reply())
        assert server.handler.received == []


async def test_refused_recipient_is_permanent_and_unreachable(
    smtp: SmtpServer, certs: Certs
) -> None:
    smtp.handler.refuse["ivan@mail.example"] = "550 5.1.1 <ivan@mail.example>: User unknown"
    with pytest.raises(PermanentError) as caught:
        await EmailConnector().send(CREDENTIALS, smtp.settings(certs), reply())
    assert caught.value.recipient_unreachable
    assert "550" in caught.value.reason and "User unknown" in caught.value.reason


async def test_greylisted_recipient_is_temporary(smtp: SmtpServer, certs: Certs) -> None:
    smtp.handler.refuse["ivan@mail.example"] = "451 4.7.1 Greylisted, try again later"
    with pytest.raises(TemporaryError, match="451"):
        await EmailConnector().send(CREDENTIALS, smtp.settings(certs), reply())


async def test_wrong_password_is_permanent(smtp: SmtpServer, certs: Certs) -> None:
    with pytest.raises(PermanentError, match="login failed"):
        await EmailConnector().send(
            {"username": "support@shop.example", "password": "wrong"}, smtp.settings(certs), reply()
        )
    assert smtp.handler.received == []


async def test_oauth2_token_instead_of_a_password(smtp: SmtpServer, certs: Certs) -> None:
    token = {"username": "support@shop.example", "oauth2_token": OAUTH2_TOKEN}
    await EmailConnector().send(token, smtp.settings(certs), reply(subject="OAuth"))
    assert received(smtp)["Subject"] == "OAuth"
    expired = {"username": "support@shop.example", "oauth2_token": "expired"}
    with pytest.raises(PermanentError, match="login failed"):
        await EmailConnector().send(expired, smtp.settings(certs), reply())


async def test_unreachable_server_is_temporary(certs: Certs) -> None:
    settings = {
        "address": "support@shop.example",
        "smtp_host": "127.0.0.1",
        "smtp_port": free_port(),  # nothing listens there
        "smtp_security": "plain",
        "timeout": 5,
    }
    with pytest.raises(TemporaryError, match="unreachable"):
        await EmailConnector().send(CREDENTIALS, settings, reply())


async def test_bad_recipient_and_header_breaks(smtp: SmtpServer, certs: Certs) -> None:
    bad = OutboundMessage(message_id=1, recipient_external_id="ivan@x\r\nBcc: all@x", text="x")
    with pytest.raises(PermanentError, match="Not an email address") as caught:
        await EmailConnector().send(CREDENTIALS, smtp.settings(certs), bad)
    assert caught.value.recipient_unreachable
    await EmailConnector().send(
        CREDENTIALS, smtp.settings(certs), reply(subject="Line one\r\nBcc: all@x", to_name="A\nB")
    )
    mail = received(smtp)
    assert mail["Subject"] == "Line one Bcc: all@x"
    assert "Bcc" not in mail
    assert smtp.handler.received[-1].rcpt_tos == ["ivan@mail.example"]


async def test_missing_configuration_is_permanent() -> None:
    with pytest.raises(PermanentError, match="smtp_host"):
        await EmailConnector().send(CREDENTIALS, {"address": "support@shop.example"}, reply())
    with pytest.raises(PermanentError, match="address"):
        await EmailConnector().send(CREDENTIALS, {"smtp_host": "127.0.0.1"}, reply())
