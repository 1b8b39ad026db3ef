"""Callback API handling and every message kind, on real-shaped events (tests/fixtures/vk)."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import InboundMessage, MessageEdit
from connectors.vk.parse import (
    CallbackResult,
    MessagePermission,
    group_id_of,
    handle_callback,
    parse_event,
)
from tests.connectors.vk.fake_vk import CONFIRMATION, GROUP_ID, SECRET, USER_ID, fixture

KEY = f"{GROUP_ID}:{USER_ID}"


def callback(
    body: Any, secret: str | None = SECRET, code: str | None = CONFIRMATION
) -> CallbackResult:
    return handle_callback(body, group_id=GROUP_ID, confirmation_code=code, secret=secret)


def inbound(name: str) -> InboundMessage:
    result = callback(fixture(name))
    assert (result.status, result.body) == (200, "ok")
    [event] = result.events
    assert isinstance(event, InboundMessage)
    return event


def test_confirmation_answers_the_channels_code() -> None:
    body = fixture("callback_confirmation")
    assert callback(body) == CallbackResult(200, CONFIRMATION)
    # The handshake is answered whatever the secret: it only proves we own the URL.
    assert callback(body, secret=None).body == CONFIRMATION
    assert callback(body, code=None).status == 503
    assert callback(body | {"group_id": 1}).status == 403


@pytest.mark.parametrize(
    ("change", "secret", "status", "reason"),
    [
        ({"secret": "guess"}, SECRET, 403, "wrong secret"),
        ({"secret": SECRET[:-1]}, SECRET, 403, "wrong secret"),
        ({"secret": None}, SECRET, 403, "wrong secret"),
        ({"secret": 12345}, SECRET, 403, "wrong secret"),
        ({}, None, 403, "no secret configured for this channel"),
        ({}, "", 403, "no secret configured for this channel"),
        ({"group_id": 42}, SECRET, 403, "wrong community"),
        ({"group_id": str(GROUP_ID)}, SECRET, 403, "wrong community"),
        ({"type": None}, SECRET, 400, "not a VK event"),
    ],
)
def test_refused_events_bring_nothing(
    change: dict[str, Any], secret: str | None, status: int, reason: str
) -> None:
    body = fixture("message_new_text") | change
    result = callback(body, secret=secret)
    assert (result.status, result.body, result.events) == (status, reason, ())
    assert not result.accepted


def test_bodies_as_bytes_text_or_garbage() -> None:
    raw = json.dumps(fixture("message_new_text"), ensure_ascii=False)
    assert callback(raw.encode()).events == callback(raw).events != ()
    assert callback(b"{not json").status == 400
    assert callback(b"[1, 2]").status == 400
    assert group_id_of(raw.encode()) == GROUP_ID
    assert group_id_of(b"nope") is None


def test_other_events_are_answered_ok_with_nothing_to_store() -> None:
    result = callback(fixture("message_typing_state"))
    assert (result.status, result.body, result.events) == (200, "ok", ())
    unknown = fixture("message_typing_state") | {"type": "wall_post_new", "object": {"id": 1}}
    assert callback(unknown).events == ()


def test_text_message() -> None:
    result = callback(fixture("message_new_text"))
    assert result.event_id == "9b2a6e1f4c0d3b7a8e5f6a1b2c3d4e5f6a7b8c9d"
    [msg] = result.events
    assert isinstance(msg, InboundMessage)
    assert msg.external_id == f"{KEY}:57"
    assert msg.sender.external_id == str(USER_ID)
    assert msg.sender.name is None  # names come from users.get
    assert (msg.kind, msg.text) == ("text", "Здравствуйте! Заказ №4521 ещё в пути?")
    assert msg.sent_at == datetime.fromtimestamp(1764920457, UTC)
    assert msg.meta["client_info"]["inline_keyboard"] is True
    assert msg.meta["message_id"] == 1021
    assert msg.reply_to_external_id is None


def test_long_poll_delivery_and_redelivery_have_the_same_key() -> None:
    body = fixture("message_new_text")
    from_callback = callback(body).events
    long_poll = {k: v for k, v in body.items() if k != "secret"}  # Long Poll has no secret
    assert parse_event(long_poll, GROUP_ID) == list(from_callback)
    assert callback(body).events == from_callback  # VK's retry of the same event
    # Pre-5.103 shape (the message itself as the object) gives the same key too.
    old = body | {"object": body["object"]["message"]}
    [msg] = parse_event(old, GROUP_ID)
    assert isinstance(msg, InboundMessage) and msg.external_id == f"{KEY}:57"


def test_photos_take_the_largest_size() -> None:
    msg = inbound("message_new_photo")
    assert (msg.kind, msg.text) == ("image", "Вот так пришла коробка")
    big, old = msg.attachments
    assert big["type"] == "image"
    assert "size=1620x2160" in big["url"]
    assert (big["width"], big["height"]) == (1620, 2160)
    assert big["vk"] == "photo743784474_457239017_b2d1e9c0f3a4d5e6c7"
    # Old photos say 0 x 0 for every size: VK's size letter decides (x > m > s).
    assert "userapi.com" in old["url"] and old["url"].endswith("type=album")
    assert (
        old["url"]
        == fixture("message_new_photo")["object"]["message"]["attachments"][1]["photo"]["sizes"][1][
            "url"
        ]
    )
    assert old["vk"] == "photo743784474_300000001"


def test_photo_orig_photo_wins() -> None:
    body = fixture("message_new_photo")
    photo = body["object"]["message"]["attachments"][0]["photo"]
    photo["orig_photo"] = {
        "url": "https://sun9-1.userapi.com/orig.jpg",
        "width": 3000,
        "height": 4000,
    }
    msg = inbound_from(body)
    assert msg.attachments[0]["url"] == "https://sun9-1.userapi.com/orig.jpg"


def inbound_from(body: dict[str, Any]) -> InboundMessage:
    [msg] = callback(body).events
    assert isinstance(msg, InboundMessage)
    return msg


def test_document() -> None:
    msg = inbound("message_new_doc")
    assert (msg.kind, msg.text) == ("document", None)
    [doc] = msg.attachments
    assert doc["filename"] == "invoice_4521.pdf"  # the title gets its extension
    assert doc["mime_type"] == "application/pdf"
    assert doc["size"] == 84213
    assert doc["url"].startswith("https://vk.com/doc743784474_691234567?")
    assert doc["vk"] == "doc743784474_691234567_d0c5ecret0a1"


def test_voice_message() -> None:
    msg = inbound("message_new_voice")
    assert msg.kind == "voice"
    [voice] = msg.attachments
    assert voice["url"].endswith("voice.ogg")
    assert voice["mime_type"] == "audio/ogg"
    assert voice["duration"] == 4
    assert voice["transcript"] == "Можно перенести доставку на завтра?"


def test_sticker() -> None:
    msg = inbound("message_new_sticker")
    assert msg.kind == "sticker"
    [sticker] = msg.attachments
    assert sticker["url"] == "https://vk.com/sticker/1-9008-512"
    assert (sticker["sticker_id"], sticker["product_id"]) == (9008, 279)


def test_geo() -> None:
    msg = inbound("message_new_geo")
    assert msg.kind == "location"
    assert msg.meta["location"] == {
        "latitude": 55.75393,
        "longitude": 37.620795,
        "name": "Красная площадь",
        "address": "Москва, Россия",
    }
    assert msg.text == "Красная площадь, Москва, Россия (55.753930, 37.620795)"


def test_forwards_and_reply() -> None:
    msg = inbound("message_new_forward_reply")
    assert msg.reply_to_external_id == f"{KEY}:55"
    assert msg.meta["reply_to"] == {
        "from_id": -GROUP_ID,
        "conversation_message_id": 55,
        "text": "Ваш заказ передан курьеру.",
        "from_community": True,
    }
    assert msg.kind == "text"  # the own text leads; forwarded files ride along
    assert msg.text == (
        "Смотрите, что курьер написал\n"
        "> Forwarded from vk.com/id100500:\n"
        "> Курьер будет в 15:00\n"
        "> Позвоните за час\n"
        "> [image]\n"
        "> [video: Как упакован заказ]\n"
        "> > Forwarded from community 1:\n"
        "> > Доставка 5 декабря"
    )
    [photo] = msg.attachments
    assert photo["forwarded"] is True and photo["type"] == "image"
    assert [f["from_id"] for f in msg.meta["forwarded"]] == [100500, -1]
    assert [f["depth"] for f in msg.meta["forwarded"]] == [1, 2]


def test_keyboard_payloads() -> None:
    pressed = inbound("message_new_button")
    assert pressed.kind == "button"
    assert pressed.text == "Да, удобно"
    assert pressed.meta["button"] == {
        "payload": {"button": "courier:4521:ok"},
        "text": "Да, удобно",
        "data": "courier:4521:ok",
    }
    start = inbound("message_new_start")
    assert start.kind == "button"
    assert start.meta["command"] == "start"
    assert start.sender.source == "instagram_ad"  # vk.me/...?ref=instagram_ad
    not_json = fixture("message_new_button")
    not_json["object"]["message"]["payload"] = "plain"
    assert inbound_from(not_json).meta["button"]["payload"] == "plain"


def test_group_chat_message_belongs_to_the_chat() -> None:
    msg = inbound("message_new_group_chat")
    assert msg.sender.external_id == "2000000001"
    assert msg.external_id == f"{GROUP_ID}:2000000001:7"
    assert msg.meta["author"] == {"id": USER_ID}


def test_video_and_links_are_recorded_not_fetched() -> None:
    msg = inbound("message_new_video")
    assert msg.kind == "text"
    assert msg.attachments == []
    video, link = msg.meta["other_attachments"]
    assert video["link"] == "https://vk.com/video743784474_456239020"
    assert link == {"type": "link", "title": "Заказ 4521", "url": "https://shop.example/order/4521"}
    assert msg.text == "[video: Как упакован заказ]\n[link: Заказ 4521]"


def test_edit_applies_to_the_stored_message() -> None:
    result = callback(fixture("message_edit"))
    [edit] = result.events
    assert edit == MessageEdit(
        external_id=f"{KEY}:57",
        text="Здравствуйте! Заказ №4521 уже в пути? Жду с утра.",
        edited_at=datetime.fromtimestamp(1764920500, UTC),
        attachments=None,
    )
    ours = fixture("message_edit")
    ours["object"] |= {"out": 1, "from_id": -GROUP_ID}
    assert callback(ours).events == ()  # the community's own edit


def test_allow_and_deny() -> None:
    [allow] = callback(fixture("message_allow")).events
    assert allow == MessagePermission(str(USER_ID), allowed=True, key="site_widget")
    [deny] = callback(fixture("message_deny")).events
    assert deny == MessagePermission(str(USER_ID), allowed=False)
    broken = fixture("message_deny") | {"object": {"user_id": "x"}}
    assert callback(broken).events == ()


def test_odd_shapes_are_kept_as_unsupported() -> None:
    body = fixture("message_new_text")
    body["object"]["message"]["geo"] = {"coordinates": {"latitude": "north"}}
    msg = inbound_from(body)
    assert msg.kind == "unsupported"
    assert msg.sender.external_id == str(USER_ID)
    assert msg.external_id == f"{GROUP_ID}:event:{body['event_id']}"
    assert msg.meta["raw"] == body
    no_peer = fixture("message_new_text")
    no_peer["object"]["message"] = {"text": "?"}
    assert inbound_from(no_peer).sender.external_id == "vk"


def test_chat_service_messages_and_empty_messages() -> None:
    body = fixture("message_new_group_chat")
    body["object"]["message"] |= {
        "text": "",
        "action": {"type": "chat_invite_user", "member_id": 5},
    }
    msg = inbound_from(body)
    assert (msg.kind, msg.text) == ("system", "Chat action: chat_invite_user")
    assert msg.meta["action"]["member_id"] == 5
    empty = fixture("message_new_text")
    empty["object"]["message"]["text"] = ""
    msg = inbound_from(empty)
    assert (msg.kind, msg.text) == ("unsupported", None)
    assert msg.meta["raw"]["conversation_message_id"] == 57
    assert msg.external_id == f"{KEY}:57"  # still stored once, under its own key
