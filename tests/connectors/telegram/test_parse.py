"""Update JSON -> neutral types, on the shared fixtures and updates of our own."""

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.telegram.parse import InvalidUpdate, parse_update
from tests.telegram.fake_bot_api import load_update


def test_private_text() -> None:
    parsed = parse_update(load_update("update_text"))
    msg = parsed.message
    assert parsed.update_id == 904711201
    assert (msg.kind, msg.external_id) == ("text", "518003941:1187")
    assert msg.text == "Здравствуйте! Подскажите, когда придёт заказ №4521?"
    assert msg.sender.external_id == "518003941"
    assert msg.sender.name == "Анна Смирнова"
    assert msg.sender.username == "anna_sm"
    assert msg.sent_at == datetime.fromtimestamp(1763884800, UTC)
    assert parsed.edit is None and parsed.callback_query_id is None


def test_photo_with_caption_and_reply_keeps_the_largest_size() -> None:
    msg = parse_update(load_update("update_photo_caption")).message
    assert msg.kind == "image"
    assert msg.text == "Коробка пришла помятой"
    assert msg.attachments == [
        {
            "type": "image",
            "file_id": "AgACAgIAAxkBAAIBN2V0aGVyX2xhcmdl",
            "file_unique_id": "AQADlarge",
            "file_size": 81922,
            "width": 1280,
            "height": 960,
        }
    ]
    assert msg.reply_to_external_id == "518003941:1190"
    assert msg.meta["reply_to"]["from_bot"] is True


def test_document_and_voice() -> None:
    doc = parse_update(load_update("update_document")).message
    assert (doc.kind, doc.text) == ("document", "Счёт")
    assert doc.attachments[0]["file_name"] == "invoice_4521.pdf"
    assert doc.attachments[0]["mime_type"] == "application/pdf"
    voice = parse_update(load_update("update_voice")).message
    assert (voice.kind, voice.text) == ("voice", None)
    assert voice.attachments[0]["file_id"] == "AwACAgIAAxkBAAIBOXZvaWNl"
    assert voice.attachments[0]["duration"] == 4


def media_update(field: str, value: Any, **extra: Any) -> dict[str, Any]:
    update = load_update("update_text")
    del update["message"]["text"]
    update["message"][field] = value
    update["message"].update(extra)
    return update


@pytest.mark.parametrize(
    ("field", "kind"),
    [
        ("video", "video"),
        ("video_note", "video"),
        ("audio", "audio"),
        ("sticker", "sticker"),
        ("voice", "voice"),
        ("document", "document"),
    ],
)
def test_every_media_kind(field: str, kind: str) -> None:
    msg = parse_update(
        media_update(field, {"file_id": f"F-{field}", "file_unique_id": "u"})
    ).message
    assert msg.kind == kind
    assert msg.attachments == [{"type": kind, "file_id": f"F-{field}", "file_unique_id": "u"}]


def test_animation_wins_over_its_document_twin() -> None:
    gif = {"file_id": "GIF", "file_unique_id": "g", "mime_type": "video/mp4"}
    msg = parse_update(media_update("animation", gif, document=gif, caption="lol")).message
    assert (msg.kind, msg.text, msg.attachments[0]["type"]) == ("animation", "lol", "animation")


def test_edited_message_is_an_edit_of_the_same_key() -> None:
    parsed = parse_update(load_update("update_edited"))
    assert parsed.edit is not None
    assert parsed.edit.external_id == "518003941:1187"
    assert parsed.edit.text == "Здравствуйте! Подскажите, когда придёт заказ №4522?"
    assert parsed.edit.edited_at == datetime.fromtimestamp(1763884835, UTC)
    assert parsed.message.external_id == "518003941:1187"  # the fallback if never stored


def test_own_contact_gives_the_phone_a_forwarded_one_does_not() -> None:
    msg = parse_update(load_update("update_contact")).message
    assert msg.kind == "contact"
    assert msg.sender.phone == "+79161234567"
    assert "+79161234567" in (msg.text or "")
    other = load_update("update_contact")
    other["message"]["contact"]["user_id"] = 42
    assert parse_update(other).message.sender.phone is None


def test_callback_query_is_a_button_press() -> None:
    parsed = parse_update(load_update("update_callback_query"))
    msg = parsed.message
    assert parsed.callback_query_id == "2225184612395620001"
    assert (msg.kind, msg.external_id) == ("button", "cb:2225184612395620001")
    assert msg.text == "Да"
    assert msg.meta["callback_data"] == "courier:4521:ok"
    assert msg.reply_to_external_id == "518003941:1194"
    assert msg.sender.external_id == "518003941"


def test_callback_data_that_is_not_text_is_ignored() -> None:
    update = load_update("update_callback_query")
    update["callback_query"]["data"] = ["csat:5"]
    update["callback_query"]["message"]["reply_markup"] = {}
    msg = parse_update(update).message
    assert msg.kind == "button"
    assert msg.text is None and msg.meta["callback_data"] is None


def test_start_deep_link_is_the_source() -> None:
    msg = parse_update(load_update("update_start_deeplink")).message
    assert msg.sender.source == "ad_vk_winter"
    assert msg.meta["start_payload"] == "ad_vk_winter"
    plain = load_update("update_start_deeplink")
    plain["message"]["text"] = "/start"
    assert parse_update(plain).message.sender.source is None


def test_group_chat_is_the_contact_and_the_author_is_kept() -> None:
    msg = parse_update(load_update("update_group_text")).message
    assert msg.sender.external_id == "-1001234567890"
    assert msg.sender.name == "Оптовые клиенты"
    assert msg.meta["author"] == {"id": 600111222, "name": "Pavel", "username": None}
    assert msg.external_id == "-1001234567890:77"


def test_a_location_keeps_its_coordinates_and_bad_ones_stay_raw() -> None:
    msg = parse_update(media_update("location", {"latitude": 55.75, "longitude": 37.61})).message
    assert (msg.kind, msg.meta["location"]) == ("location", {"latitude": 55.75, "longitude": 37.61})
    broken = media_update("location", {"latitude": "north"})
    assert parse_update(broken).message.kind == "unsupported"


def test_unsupported_message_and_update_keep_the_raw_json() -> None:
    dice = media_update("dice", {"emoji": "🎲", "value": 4})
    msg = parse_update(dice).message
    assert (msg.kind, msg.meta["content_type"]) == ("unsupported", "dice")
    assert msg.meta["raw"] == dice
    assert msg.external_id == "518003941:1187"

    poll_answer = {
        "update_id": 5,
        "poll_answer": {"poll_id": "1", "user": {"id": 9}, "option_ids": [0]},
    }
    reaction = {
        "update_id": 6,
        "message_reaction": {
            "chat": {"id": 518003941, "type": "private"},
            "user": {"id": 518003941, "first_name": "Анна"},
            "message_id": 1,
        },
    }
    for update in (poll_answer, reaction):
        msg = parse_update(copy.deepcopy(update)).message
        assert msg.kind == "unsupported"
        assert msg.external_id == f"update:{update['update_id']}"
        assert msg.meta["raw"] == update
    assert parse_update(reaction).message.sender.external_id == "518003941"
    assert parse_update(poll_answer).message.sender.external_id == "telegram"


@pytest.mark.parametrize("body", [[], "x", {"message": {}}, {"update_id": "1"}])
def test_not_an_update(body: Any) -> None:
    with pytest.raises(InvalidUpdate):
        parse_update(body)
