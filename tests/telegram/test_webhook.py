"""POST /webhooks/telegram/{channel_id}: secret check, idempotency, every kind of update."""

from typing import Any

import pytest

from tests.conftest import Running
from tests.helpers import auth, statements_sent
from tests.telegram.fake_bot_api import FakeBotApi, load_update
from tests.telegram.helpers import (
    all_messages,
    conversations,
    create_bot,
    deliver,
    messages,
    secret_of,
)


@pytest.fixture
async def bot(run: Running, fake_api: FakeBotApi) -> dict[str, Any]:
    admin = await run.admin_token()
    channel = await create_bot(run.client, admin)
    return {"admin": admin, "id": channel["id"], "secret": secret_of(fake_api)}


async def test_good_secret_stores_the_message(run: Running, bot: dict[str, Any]) -> None:
    r = await deliver(run.client, bot["id"], load_update("update_text"), bot["secret"])
    assert r.status_code == 200, r.text
    [conv] = await conversations(run.client, bot["admin"])
    assert conv["channel_type"] == "telegram"
    assert conv["contact"]["name"] == "Анна Смирнова"
    [msg] = await messages(run.client, bot["admin"], conv["id"])
    assert msg["text"] == "Здравствуйте! Подскажите, когда придёт заказ №4521?"
    assert (msg["direction"], msg["kind"]) == ("inbound", "text")


@pytest.mark.parametrize("secret", [None, "", "wrong", "x" * 300, "пароль".encode()])
async def test_missing_or_wrong_secret_is_401_and_stores_nothing(
    run: Running, bot: dict[str, Any], secret: str | bytes | None
) -> None:
    r = await deliver(run.client, bot["id"], load_update("update_text"), secret)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "bad_secret"
    assert await conversations(run.client, bot["admin"]) == []


async def test_unknown_channel_and_malformed_body(run: Running, bot: dict[str, Any]) -> None:
    r = await deliver(run.client, bot["id"] + 100, load_update("update_text"), bot["secret"])
    assert r.status_code == 404
    r = await deliver(run.client, bot["id"], b"{not json", bot["secret"])
    assert r.status_code == 400
    r = await deliver(run.client, bot["id"], {"hello": 1}, bot["secret"])
    assert r.status_code == 400
    assert await conversations(run.client, bot["admin"]) == []


async def test_a_redelivered_update_is_one_message(run: Running, bot: dict[str, Any]) -> None:
    update = load_update("update_text")
    for _ in range(3):
        r = await deliver(run.client, bot["id"], update, bot["secret"])
        assert r.status_code == 200
    # The same chat + message_id under another update_id is the same message too.
    update["update_id"] += 1000
    assert (await deliver(run.client, bot["id"], update, bot["secret"])).status_code == 200
    [conv] = await conversations(run.client, bot["admin"])
    assert conv["unread_count"] == 1
    assert len(await messages(run.client, bot["admin"], conv["id"])) == 1


async def test_an_edit_updates_the_stored_message(run: Running, bot: dict[str, Any]) -> None:
    await deliver(run.client, bot["id"], load_update("update_text"), bot["secret"])
    r = await deliver(run.client, bot["id"], load_update("update_edited"), bot["secret"])
    assert r.status_code == 200
    [msg] = await all_messages(run.client, bot["admin"])
    assert msg["text"] == "Здравствуйте! Подскажите, когда придёт заказ №4522?"
    assert msg["edited_at"] is not None


async def test_an_edit_of_a_message_we_never_saw_is_kept(run: Running, bot: dict[str, Any]) -> None:
    await deliver(run.client, bot["id"], load_update("update_edited"), bot["secret"])
    [msg] = await all_messages(run.client, bot["admin"])
    assert msg["text"] == "Здравствуйте! Подскажите, когда придёт заказ №4522?"


def with_media(field: str, value: Any, message_id: int) -> dict[str, Any]:
    update = load_update("update_text")
    update["update_id"] += message_id
    message = update["message"]
    message["message_id"] = message_id
    del message["text"]
    message[field] = value
    message["caption"] = f"{field} caption"
    return update


MEDIA = {
    "photo": (
        "image",
        [
            {"file_id": "P-small", "file_unique_id": "s", "file_size": 10, "width": 9, "height": 9},
            {"file_id": "P-big", "file_unique_id": "b", "file_size": 99, "width": 90, "height": 90},
        ],
    ),
    "document": (
        "document",
        {
            "file_id": "D",
            "file_unique_id": "d",
            "file_name": "a.pdf",
            "mime_type": "application/pdf",
        },
    ),
    "voice": (
        "voice",
        {"file_id": "V", "file_unique_id": "v", "duration": 2, "mime_type": "audio/ogg"},
    ),
    "video": (
        "video",
        {"file_id": "VI", "file_unique_id": "vi", "duration": 3, "width": 1, "height": 1},
    ),
    "video_note": ("video", {"file_id": "VN", "file_unique_id": "vn", "duration": 3, "length": 1}),
    "sticker": (
        "sticker",
        {
            "file_id": "S",
            "file_unique_id": "st",
            "type": "regular",
            "width": 1,
            "height": 1,
            "is_animated": False,
            "is_video": False,
        },
    ),
    "audio": (
        "audio",
        {"file_id": "A", "file_unique_id": "au", "duration": 60, "mime_type": "audio/mpeg"},
    ),
    "animation": (
        "animation",
        {"file_id": "G", "file_unique_id": "g", "duration": 1, "width": 1, "height": 1},
    ),
}


async def test_every_media_kind_is_stored_and_downloadable(
    run: Running, bot: dict[str, Any], fake_api: FakeBotApi
) -> None:
    for i, (field, (_, value)) in enumerate(MEDIA.items()):
        r = await deliver(run.client, bot["id"], with_media(field, value, 3000 + i), bot["secret"])
        assert r.status_code == 200, r.text
    stored = {
        m["kind"] + ":" + m["attachments"][0]["file_id"]: m
        for m in await all_messages(run.client, bot["admin"])
    }
    assert len(stored) == len(MEDIA)
    for field, (kind, value) in MEDIA.items():
        file_id = "P-big" if field == "photo" else value["file_id"]
        msg = stored[f"{kind}:{file_id}"]
        assert msg["text"] == f"{field} caption"
        fake_api.add_file(file_id, f"files/{file_id}.bin", f"bytes of {file_id}".encode())
        r = await run.client.get(
            f"/api/v1/messages/{msg['id']}/attachments/0", headers=auth(bot["admin"])
        )
        assert r.status_code == 200, r.text
        assert r.content == f"bytes of {file_id}".encode()
    assert fake_api.calls_of("getFile")[0].params == {"file_id": "P-big"}
    # A file Telegram no longer has is a clean 404 for the operator.
    gone = stored["voice:V"]
    del fake_api.files["V"]
    r = await run.client.get(
        f"/api/v1/messages/{gone['id']}/attachments/0", headers=auth(bot["admin"])
    )
    assert r.status_code == 404


async def test_reply_keeps_the_link(run: Running, bot: dict[str, Any]) -> None:
    first = load_update("update_text")
    reply = load_update("update_text")
    reply["update_id"] += 1
    reply["message"]["message_id"] = 1188
    reply["message"]["text"] = "И ещё вопрос"
    reply["message"]["reply_to_message"] = first["message"]
    await deliver(run.client, bot["id"], first, bot["secret"])
    await deliver(run.client, bot["id"], reply, bot["secret"])
    original, answer = await all_messages(run.client, bot["admin"])
    assert answer["reply_to_id"] == original["id"]


async def test_button_press_is_a_button_touchpoint_and_answered(
    run: Running, bot: dict[str, Any]
) -> None:
    r = await deliver(run.client, bot["id"], load_update("update_callback_query"), bot["secret"])
    assert r.status_code == 200
    assert r.json() == {"method": "answerCallbackQuery", "callback_query_id": "2225184612395620001"}
    [msg] = await all_messages(run.client, bot["admin"])
    assert (msg["kind"], msg["text"]) == ("button", "Да")
    r = await run.client.get(
        "/api/v1/touchpoints",
        params={"conversation_id": msg["conversation_id"]},
        headers=auth(bot["admin"]),
    )
    assert "button" in [t["kind"] for t in r.json()["items"]]


async def contact_of(run: Running, admin: str) -> dict[str, Any]:
    [conv] = await conversations(run.client, admin)
    r = await run.client.get(f"/api/v1/contacts/{conv['contact']['id']}", headers=auth(admin))
    data: dict[str, Any] = r.json()
    return data


async def test_shared_contact_saves_the_phone(run: Running, bot: dict[str, Any]) -> None:
    await deliver(run.client, bot["id"], load_update("update_contact"), bot["secret"])
    contact = await contact_of(run, bot["admin"])
    assert contact["phone"] == "+79161234567"
    [msg] = await all_messages(run.client, bot["admin"])
    assert msg["kind"] == "contact"


async def test_start_deep_link_is_the_lead_source(run: Running, bot: dict[str, Any]) -> None:
    await deliver(run.client, bot["id"], load_update("update_start_deeplink"), bot["secret"])
    await deliver(run.client, bot["id"], load_update("update_text"), bot["secret"])
    contact = await contact_of(run, bot["admin"])
    assert contact["source"] == "ad_vk_winter"
    assert contact["identities"][0]["username"] == "anna_sm"


async def test_group_chat_is_stored_and_visible(run: Running, bot: dict[str, Any]) -> None:
    r = await deliver(run.client, bot["id"], load_update("update_group_text"), bot["secret"])
    assert r.status_code == 200
    second = load_update("update_group_text")
    second["update_id"] += 1
    second["message"] |= {
        "message_id": 78,
        "from": {"id": 600333444, "is_bot": False, "first_name": "Ольга", "last_name": "Ким"},
        "text": "И доставку в Казань тоже",
    }
    anonymous = load_update("update_group_text")
    anonymous["update_id"] += 2
    anonymous["message"] |= {
        "message_id": 79,
        "from": {
            "id": 1087968824,
            "is_bot": True,
            "first_name": "Group",
            "username": "GroupAnonymousBot",
        },
        "sender_chat": {"id": -1001234567890, "title": "Оптовые клиенты", "type": "supergroup"},
        "text": "Администратор: да, есть",
    }
    for update in (second, anonymous):
        assert (await deliver(run.client, bot["id"], update, bot["secret"])).status_code == 200
    [conv] = await conversations(run.client, bot["admin"])
    assert conv["contact"]["name"] == "Оптовые клиенты"
    msgs = await messages(run.client, bot["admin"], conv["id"])
    assert [(m["sender_name"], m["text"]) for m in msgs] == [
        ("Pavel", "Коллеги, есть ли скидка на партию от 100 штук?"),
        ("Ольга Ким", "И доставку в Казань тоже"),
        ("Оптовые клиенты", "Администратор: да, есть"),
    ]


async def test_a_location_and_a_venue_keep_their_coordinates(
    run: Running, bot: dict[str, Any]
) -> None:
    point = {"latitude": 55.751244, "longitude": 37.618423}
    location = with_media("location", point, 4100)
    del location["message"]["caption"]
    venue = with_media(
        "venue",
        {
            "location": {"latitude": 59.93428, "longitude": 30.335099},
            "title": "Пункт выдачи №12",
            "address": "Невский пр., 28",
        },
        4101,
    )
    venue["message"]["location"] = {"latitude": 59.93428, "longitude": 30.335099}
    del venue["message"]["caption"]
    for update in (location, venue):
        assert (await deliver(run.client, bot["id"], update, bot["secret"])).status_code == 200
    first, second = await all_messages(run.client, bot["admin"])
    assert first["kind"] == "location"
    assert first["location"] == point
    assert first["text"] == "Location: 55.751244, 37.618423"
    assert second["kind"] == "location"
    assert second["location"] == {
        "latitude": 59.93428,
        "longitude": 30.335099,
        "name": "Пункт выдачи №12",
        "address": "Невский пр., 28",
    }
    assert second["text"] == "Пункт выдачи №12, Невский пр., 28 (59.934280, 30.335099)"


async def test_unsupported_updates_are_stored_not_dropped(
    run: Running, bot: dict[str, Any]
) -> None:
    dice = with_media("dice", {"emoji": "🎲", "value": 4}, 4000)
    channel_post = {
        "update_id": 904711300,
        "channel_post": {
            "message_id": 5,
            "chat": {"id": -100777, "title": "News", "type": "channel"},
            "date": 1763885000,
            "text": "Hello channel",
        },
    }
    for update in (dice, channel_post):
        r = await deliver(run.client, bot["id"], update, bot["secret"])
        assert r.status_code == 200, r.text
    kinds = [m["kind"] for m in await all_messages(run.client, bot["admin"])]
    assert kinds == ["unsupported", "unsupported"]


async def test_the_channel_is_read_once_per_ttl_and_a_change_here_is_seen_at_once(
    run: Running, bot: dict[str, Any]
) -> None:
    """Every webhook needs its channel (type, active, secret): a process reads it once per
    few seconds, not per delivery, and forgets it when the channel changes through it."""
    first, second = load_update("update_text"), load_update("update_text")
    second["update_id"] += 1
    second["message"]["message_id"] += 1
    r = await deliver(run.client, bot["id"], first, bot["secret"])
    assert r.status_code == 200, r.text
    with statements_sent(run.ctx.engine) as statements:
        r = await deliver(run.client, bot["id"], second, bot["secret"])
    assert r.status_code == 200, r.text
    assert statements and not [s for s in statements if "FROM channel_accounts" in s]
    assert len(await all_messages(run.client, bot["admin"])) == 2

    r = await run.client.patch(
        f"/api/v1/channels/{bot['id']}", json={"is_active": False}, headers=auth(bot["admin"])
    )
    assert r.status_code == 200, r.text
    second["update_id"] += 1
    r = await deliver(run.client, bot["id"], second, bot["secret"])
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "unknown_channel"
