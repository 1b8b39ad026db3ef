"""parse_email on a corpus of real-shaped mail (tests/fixtures/email): what the operator
sees, what meta keeps, what is flagged, and that nothing raises."""

import hashlib
import random
from datetime import UTC, datetime

import pytest

from connectors.email.compose import reply_meta
from connectors.email.connector import read_mail
from connectors.email.headers import message_id, message_ids, reply_subject, reply_token
from connectors.email.parse import META_TEXT_LIMIT, MailLocation, parse_email, thread_keys
from tests.connectors.email.conftest import FIXTURES, fixture


def parsed(name: str, **kwargs: object):  # type: ignore[no-untyped-def]
    result = parse_email(fixture(name), **kwargs)  # type: ignore[arg-type]
    assert result.message is not None
    return result, result.message


def test_windows_1251_body_with_quote_and_signature() -> None:
    _, m = parsed("cp1251_plain.eml")
    assert m.sender.external_id == "ivan.petrov@mail.example"  # lower-cased
    assert m.sender.external_id == "ivan.petrov@mail.example"
    assert m.sender.email is None  # a From line is not the provider's word
    assert m.sender.name == "Иван Петров"
    assert m.sender.phone is None  # a From header vouches for nothing else
    assert m.text == "Здравствуйте!\nПодскажите, когда привезут заказ №1042? Нужен до пятницы."
    assert m.external_id == "CAF1042.ivan@mail.example"
    assert m.reply_to_external_id == "order-1042.confirm@shop.example"
    assert m.meta["subject"] == "Re: Заказ №1042"
    assert m.meta["references"] == [
        "order-1042.start@shop.example",
        "order-1042.confirm@shop.example",
    ]
    # The whole text stays for "show the original".
    assert "Ваш заказ №1042 принят." in m.meta["full_text"]
    assert "С уважением" in m.meta["full_text"]
    assert m.sent_at == datetime(2026, 12, 5, 6, 11, 58, tzinfo=UTC)
    assert "automated" not in m.meta


def test_koi8r_quoted_printable_and_encoded_subject() -> None:
    _, m = parsed("koi8r_qp.eml")
    assert m.sender.name == "Ольга Сидорова"
    assert m.meta["subject"] == "Счет на оплату"
    assert m.text == "Добрый вечер.\nСчёт получил, оплачу завтра."  # Thunderbird "пишет:" cut


def test_rfc2047_subject_reply_token_and_threading() -> None:
    _, m = parsed("rfc2047_reply.eml", mailbox_address="support@shop.example")
    assert m.meta["subject"] == "Вопрос по доставке"  # two encoded words, no space between
    assert m.sender.name == "José María"
    assert m.meta["reply_token"] == "c42"
    assert m.meta["in_reply_to"] == "msg-7.reply@shop.example"  # the comment after it dropped
    assert m.meta["references"] == ["msg-1@shop.example", "msg-7.reply@shop.example"]
    assert m.meta["cc"] == ["boss@example.com"]
    assert m.text == "Thanks, that works for me."  # English quote and "Best regards" cut


def test_rfc2231_attachment_names() -> None:
    result, m = parsed("rfc2231_attachments.eml")
    names = [a["filename"] for a in m.attachments]
    assert names == ["Счёт №1042.pdf", "Прайс-лист декабрь.xlsx", "заметки.txt"]
    assert m.attachments[0]["content_type"] == "application/pdf"
    assert m.attachments[0]["type"] == "document"
    assert result.files[0] is not None and result.files[0].startswith(b"%PDF-1.4")
    assert result.files[2] == "заметки".encode()
    assert m.text == "Please see the attached files."


def test_html_only_mail_is_shown_as_sanitised_text() -> None:
    _, m = parsed("html_only.eml")
    assert m.meta["text_source"] == "html"
    assert m.text == "Добрый день!\n\nХочу вернуть товар, размер не подошёл.\n\nЗаказ 1042"
    html = m.meta["html"]
    assert "размер не подошёл" in html
    assert "<script" not in html and "alert" not in html
    assert "tracker.example" not in html  # no remote image: no tracking pixel
    assert "onclick" not in html
    assert 'href="https://shop.example/orders/1042"' in html
    assert "Ваш заказ доставлен." in m.meta["full_text"]


def test_multipart_alternative_prefers_plain_and_cuts_outlook_russian_header() -> None:
    _, m = parsed("alternative.eml")
    assert m.text == "Да, адрес верный."
    assert m.meta["text_source"] == "plain"
    assert "<i>верный</i>" in m.meta["html"]
    assert m.attachments == []  # the HTML alternative is not a file


def test_inline_image_is_a_file_with_its_content_id() -> None:
    result, m = parsed("inline_image.eml")
    assert len(m.attachments) == 1
    image = m.attachments[0]
    assert image["type"] == "image" and image["filename"] == "photo.png"
    assert image["inline"] is True and image["content_id"] == "ii_photo1"
    assert result.files[0] is not None and result.files[0].startswith(b"\x89PNG")
    assert "cid:ii_photo1" in m.meta["html"]  # our own images stay


def test_forwarded_message_is_shown_and_kept() -> None:
    result, m = parsed("forwarded.eml")
    assert m.text is not None
    assert m.text.startswith("Please handle this one.")
    assert "Курьер опоздал на три часа." in m.text  # KOI8-R inside the forwarded mail
    forwarded = m.meta["forwarded"][0]
    assert forwarded["subject"] == "Жалоба на доставку"
    assert forwarded["message_id"] == "complaint-77@example.org"
    assert m.attachments[0]["content_type"] == "message/rfc822"
    assert m.attachments[0]["filename"] == "Жалоба на доставку.eml"
    assert result.files[0] is not None and b"complaint-77@example.org" in result.files[0]


def test_attachment_over_the_limit_is_recorded_with_a_note() -> None:
    result, m = parsed("attachment_too_big.eml", max_attachment_bytes=3000)
    big, small = m.attachments
    assert big["filename"] == "scan.tiff" and big["size"] == 5120
    assert big["too_large"] is True and "limit" in big["note"]
    assert result.files == [None, b"small note"]
    assert "too_large" not in small
    # With a higher limit the same file is kept.
    roomy = parse_email(fixture("attachment_too_big.eml"), max_attachment_bytes=10_000)
    assert roomy.files[0] is not None and len(roomy.files[0]) == 5120


def test_malformed_mime_is_stored_with_what_could_be_read() -> None:
    _, m = parsed("malformed.eml")
    assert m.meta["subject"] == "Заявка без кодировки"  # raw 8-bit header, windows-1251
    assert m.text is not None and m.text.startswith("Прошу перезвонить по заказу.")
    assert m.sender.external_id == "broken@example.com"
    assert m.sent_at is None  # "not a date"
    assert "CloseBoundaryNotFoundDefect" in m.meta["defects"]
    assert m.attachments[0]["filename"] == "doc.pdf"


@pytest.mark.parametrize("seed", range(30))
def test_damaged_bytes_never_raise(seed: int) -> None:
    """Every fixture, truncated and with bytes flipped: a message or a status, no error."""
    rng = random.Random(seed)
    for path in sorted(FIXTURES.glob("*.eml")):
        raw = bytearray(path.read_bytes())
        raw = raw[: rng.randint(0, len(raw))]
        for _ in range(rng.randint(0, 20)):
            if raw:
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        result = parse_email(bytes(raw))
        assert result.message is not None or result.status is not None or b"delay" in raw


def test_auto_reply_is_flagged() -> None:
    result, m = parsed("auto_reply.eml")
    assert m.meta["automated"] == {"kind": "auto_reply", "reason": "Auto-Submitted: auto-replied"}
    assert result.automated == m.meta["automated"]


def test_out_of_office_subject_is_the_last_resort() -> None:
    _, m = parsed("out_of_office.eml")
    assert m.meta["automated"] == {"kind": "auto_reply", "reason": "out-of-office subject"}


def test_mailing_list_is_flagged() -> None:
    _, m = parsed("mailing_list.eml")
    assert m.meta["automated"]["kind"] == "mailing_list"


def test_a_person_writing_is_not_flagged() -> None:
    for name in ("cp1251_plain.eml", "rfc2047_reply.eml", "alternative.eml", "forwarded.eml"):
        result, _ = parsed(name)
        assert result.automated is None, name


def test_bounce_marks_our_message_failed_with_the_reason() -> None:
    result = parse_email(fixture("bounce_dsn.eml"))
    assert result.message is None
    status = result.status
    assert status is not None
    assert status.provider_message_id == "chatcentre.42.abc@shop.example"
    assert status.state == "failed"
    assert status.error_code == "5.1.1"
    assert status.error_title == (
        "smtp; 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"
    )
    assert status.at == datetime(2026, 12, 5, 9, 39, 58, tzinfo=UTC)


def test_delay_notice_changes_nothing() -> None:
    result = parse_email(fixture("delay_dsn.eml"))
    assert result.message is None and result.status is None


def test_mail_without_message_id_gets_a_content_key() -> None:
    raw = fixture("no_message_id.eml")
    location = MailLocation("INBOX", 7, 3)
    _, m = parsed("no_message_id.eml", location=location)
    assert m.external_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert m.meta["imap"] == {"folder": "INBOX", "uidvalidity": 7, "uid": 3}
    # Read again from another UID (after a UIDVALIDITY change): the same key.
    again = parse_email(raw, location=MailLocation("INBOX", 8, 1)).message
    assert again is not None and again.external_id == m.external_id


def test_attachments_carry_their_mailbox_location() -> None:
    _, m = parsed("rfc2231_attachments.eml", location=MailLocation("Support", 11, 5))
    assert m.attachments[1]["imap"] == {"folder": "Support", "uidvalidity": 11, "uid": 5}
    assert m.attachments[1]["part"] == "3"


def test_subject_only_mail_shows_the_subject() -> None:
    raw = b"From: a@b.example\r\nSubject: Call me back\r\nMessage-ID: <s@b>\r\n\r\n"
    m = parse_email(raw).message
    assert m is not None and m.text == "Call me back"


def test_header_helpers() -> None:
    assert message_id(" <abc@x> (comment)") == "abc@x"
    assert message_id("bare@id") == "bare@id"
    assert message_id("no id here") is None
    assert message_ids("<a@x>\r\n <b@x> <a@x>") == ["a@x", "b@x"]
    assert reply_subject("RE: Re[2]: Ответ: Заказ") == "Re: Заказ"
    assert reply_subject("Re: Re: hello") == "Re: hello"
    assert reply_subject("Заказ") == "Re: Заказ"
    assert reply_subject("Fwd: Заказ") == "Re: Fwd: Заказ"
    assert (
        reply_token(["other+x@else.example", "support+c7@shop.example"], "support@shop.example")
        == "c7"
    )
    assert reply_token(["support@shop.example"], "support@shop.example") is None


def test_thread_keys_put_the_parent_first() -> None:
    _, m = parsed("cp1251_plain.eml")
    assert thread_keys(m.meta) == [
        "order-1042.confirm@shop.example",
        "order-1042.start@shop.example",
    ]
    _, fresh = parsed("koi8r_qp.eml")
    assert thread_keys(fresh.meta) == []


def test_reply_meta_answers_a_stored_mail() -> None:
    _, m = parsed("cp1251_plain.eml")
    assert reply_meta(m.meta) == {
        "subject": "Re: Заказ №1042",
        "in_reply_to": "CAF1042.ivan@mail.example",
        "references": ["order-1042.start@shop.example", "order-1042.confirm@shop.example"],
    }


def test_read_mail_applies_the_channel_settings() -> None:
    settings = {"address": "Support@Shop.example", "max_attachment_bytes": 3000}
    result = read_mail(fixture("attachment_too_big.eml"), settings)
    assert result.files[0] is None
    token = read_mail(fixture("rfc2047_reply.eml"), {"address": "other@shop.example"})
    assert token.message is not None and "reply_token" not in token.message.meta


def test_huge_html_is_kept_cut() -> None:
    html = "<p>" + "Большая рассылка. " * 40_000 + "</p>"
    raw = (
        "From: a@b.example\r\nMessage-ID: <big-html@b>\r\nSubject: News\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n" + html
    ).encode()
    m = parse_email(raw).message
    assert m is not None
    assert len(m.meta["html"]) == META_TEXT_LIMIT
    assert len(m.meta["full_text"]) == META_TEXT_LIMIT
    assert m.meta["truncated"] == ["full_text", "html"]
