"""TelegramConnector.send / fetch_media against the fake Bot API over real HTTP."""

from typing import Any

import pytest

from connectors.base import MediaUnavailable, OutboundMessage, PermanentError, TemporaryError
from connectors.telegram.client import get_me
from connectors.telegram.connector import TelegramConnector, split_text
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi

CHAT = 518003941
CREDS = {"bot_token": TOKEN}


def out(text: str | None = "hi", message_id: int = 1, **kw: Any) -> OutboundMessage:
    return OutboundMessage(message_id=message_id, recipient_external_id=str(CHAT), text=text, **kw)


def settings(fake: FakeBotApi) -> dict[str, Any]:
    return {"api_server": fake.url}


def test_split_text_keeps_everything_in_order() -> None:
    text = ("word " * 1000).strip()  # 4999 characters
    parts = split_text(text)
    assert len(parts) == 2
    assert all(len(p) <= 4096 for p in parts)
    assert "".join(parts) == text
    assert parts[0].endswith(" ")  # cut between words
    assert split_text("x" * 8193) == ["x" * 4096, "x" * 4096, "x"]
    # Telegram counts UTF-16 units: an emoji is two.
    emoji = split_text("😀" * 3000)
    assert [len(p) for p in emoji] == [2048, 952]
    assert split_text("") == [""]


async def test_send_text_returns_telegram_message_id(fake_api: FakeBotApi) -> None:
    result = await TelegramConnector().send(CREDS, settings(fake_api), out("Добрый день!"))
    [call] = fake_api.calls_of("sendMessage")
    assert call.params["chat_id"] == str(CHAT)
    assert call.params["text"] == "Добрый день!"
    assert result.provider_message_id == "2000"


async def test_long_text_goes_as_several_messages_in_order(fake_api: FakeBotApi) -> None:
    text = "a" * 4096 + "b" * 904
    result = await TelegramConnector().send(CREDS, settings(fake_api), out(text))
    sent = [c.params["text"] for c in fake_api.calls_of("sendMessage")]
    assert sent == ["a" * 4096, "b" * 904]
    assert result.provider_message_id == "2000,2001"


async def test_inline_buttons_go_on_the_last_part(fake_api: FakeBotApi) -> None:
    buttons = [[{"text": "Да", "data": "courier:ok"}, {"text": "Сайт", "url": "https://x.io"}]]
    await TelegramConnector().send(
        CREDS, settings(fake_api), out("c" * 5000, meta={"buttons": buttons})
    )
    first, last = fake_api.calls_of("sendMessage")
    assert "reply_markup" not in first.params
    assert last.params["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "Да", "callback_data": "courier:ok"},
                {"text": "Сайт", "url": "https://x.io"},
            ]
        ]
    }


async def test_photo_by_url_with_caption_and_document_by_file_id(fake_api: FakeBotApi) -> None:
    connector = TelegramConnector()
    photo = {"type": "image", "url": "https://cdn.example.com/box.jpg"}
    await connector.send(CREDS, settings(fake_api), out("Ваша коробка", attachments=[photo]))
    [call] = fake_api.calls_of("sendPhoto")
    assert call.params["photo"] == "https://cdn.example.com/box.jpg"
    assert call.params["caption"] == "Ваша коробка"
    assert not fake_api.calls_of("sendMessage")

    doc = {"type": "document", "file_id": "BQACAgIAAxkBAAIBOGludm9pY2U"}
    await connector.send(
        CREDS, settings(fake_api), out("x" * 2000, message_id=2, attachments=[doc])
    )
    assert [c.method for c in fake_api.calls[-2:]] == ["sendMessage", "sendDocument"]
    assert fake_api.calls[-1].params["document"] == "BQACAgIAAxkBAAIBOGludm9pY2U"
    assert "caption" not in fake_api.calls[-1].params  # too long for a caption: sent before


async def test_errors_map_to_retry_or_give_up(fake_api: FakeBotApi) -> None:
    connector = TelegramConnector()
    fake_api.fail("sendMessage", "error_429")
    with pytest.raises(TemporaryError) as retry:
        await connector.send(CREDS, settings(fake_api), out())
    assert retry.value.retry_after == 3

    fake_api.fail("sendMessage", "error_403_blocked")
    with pytest.raises(PermanentError) as blocked:
        await connector.send(CREDS, settings(fake_api), out())
    assert blocked.value.recipient_unreachable
    assert blocked.value.reason == "Forbidden: bot was blocked by the user"

    fake_api.fail("sendMessage", "error_400_chat_not_found")
    with pytest.raises(PermanentError) as missing:
        await connector.send(CREDS, settings(fake_api), out())
    assert missing.value.recipient_unreachable

    fake_api.fail(
        "sendMessage",
        {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"},
    )
    with pytest.raises(PermanentError) as bad:
        await connector.send(CREDS, settings(fake_api), out())
    assert not bad.value.recipient_unreachable

    fake_api.fail("sendMessage", 502)
    with pytest.raises(TemporaryError):
        await connector.send(CREDS, settings(fake_api), out())
    fake_api.fail_raw("sendMessage", 502, "<html>502 Bad Gateway</html>")
    with pytest.raises(TemporaryError):
        await connector.send(CREDS, settings(fake_api), out())
    fake_api.disconnect("sendMessage")
    with pytest.raises(TemporaryError) as net:
        await connector.send(CREDS, settings(fake_api), out())
    assert TOKEN not in net.value.reason

    with pytest.raises(TemporaryError):  # nothing listening
        await connector.send(CREDS, {"api_server": "http://127.0.0.1:9"}, out())
    with pytest.raises(PermanentError):
        await connector.send({"bot_token": "1:revoked"}, settings(fake_api), out())


async def test_a_retry_does_not_resend_parts_already_delivered(fake_api: FakeBotApi) -> None:
    connector = TelegramConnector()
    envelope = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    fake_api.fail_nth("sendMessage", 2, envelope)  # part one gets through, part two: 429
    message = out("a" * 4096 + "b" * 10, message_id=7)
    with pytest.raises(TemporaryError) as exc:
        await connector.send(CREDS, settings(fake_api), message)
    assert exc.value.retry_after == 1
    result = await connector.send(CREDS, settings(fake_api), message)
    texts = [c.params["text"][0] for c in fake_api.calls_of("sendMessage")]
    assert texts == ["a", "b", "b"]  # part one once; part two failed once, then sent
    assert result.provider_message_id == "2000,2001"


async def test_fetch_media_downloads_through_get_file(fake_api: FakeBotApi) -> None:
    fake_api.add_file("PHOTO1", "photos/file_12.jpg", b"\xff\xd8jpeg-bytes")
    connector = TelegramConnector()
    media = await connector.fetch_media(
        CREDS, settings(fake_api), {"type": "image", "file_id": "PHOTO1"}
    )
    assert media.content == b"\xff\xd8jpeg-bytes"
    assert media.content_type == "image/jpeg"
    assert media.filename == "file_12.jpg"
    assert [c.method for c in fake_api.calls] == ["getFile", "download"]

    fake_api.add_file("DOC", "documents/file_3", b"%PDF")
    doc = {
        "type": "document",
        "file_id": "DOC",
        "file_name": "invoice.pdf",
        "mime_type": "application/pdf",
    }
    media = await connector.fetch_media(CREDS, settings(fake_api), doc)
    assert (media.content_type, media.filename) == ("application/pdf", "invoice.pdf")

    with pytest.raises(MediaUnavailable):
        await connector.fetch_media(CREDS, settings(fake_api), {"file_id": "gone"})
    with pytest.raises(MediaUnavailable):
        await connector.fetch_media(CREDS, settings(fake_api), {"url": "x"})


async def test_get_me_reads_the_bot(fake_api: FakeBotApi) -> None:
    me = await get_me(TOKEN, fake_api.url)
    assert (me.id, me.username) == (7012345678, "shop_demo_bot")
