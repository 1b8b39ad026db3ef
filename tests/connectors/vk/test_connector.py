"""VkConnector and the API client against the fake VK over real HTTP."""

import json
from typing import Any

import pytest

from connectors.base import (
    MediaUnavailable,
    OutboundFile,
    OutboundMessage,
    PermanentError,
    TemporaryError,
)
from connectors.vk.connector import PARTS_PER_MESSAGE, VkConnector, plan, random_id_for
from connectors.vk.errors import VkPermanentError, VkTemporaryError
from tests.conftest import free_port
from tests.connectors.vk.fake_vk import GROUP_ID, TOKEN, USER_ID, VK, FakeVk

CREDS = {"access_token": TOKEN}
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"x" * 64


def settings(vk: FakeVk) -> dict[str, Any]:
    return {"group_id": GROUP_ID, "api_base": vk.api_base}


def out(text: str | None = "Добрый день!", message_id: int = 1, **kw: Any) -> OutboundMessage:
    return OutboundMessage(message_id, str(USER_ID), text, **kw)


def connector(**kw: Any) -> VkConnector:
    return VkConnector(media_hosts=("127.0.0.1",), **kw)


def test_random_id_is_stable_distinct_and_int32() -> None:
    assert random_id_for(1, 0) == random_id_for(1, 0)
    seen = {random_id_for(m, p) for m in range(1, 5001) for p in range(4)}
    assert len(seen) == 20000  # neighbouring messages and parts never share one
    for message_id in (0, 1, 2**31, 2**40 + 7, 9_000_000_000_000):
        for part in (0, PARTS_PER_MESSAGE - 1):
            assert 1 <= random_id_for(message_id, part) <= 2**31 - 1  # 0 would switch it off
    with pytest.raises(PermanentError):
        random_id_for(1, PARTS_PER_MESSAGE)


def test_plan_puts_attachments_with_the_last_text_part() -> None:
    files = [OutboundFile(f"{i}.pdf", "application/pdf", PDF) for i in range(11)]
    parts = plan(
        out(
            "a" * 5000,
            attachments=[{"vk": "photo-1_2_k"}, {"url": "https://x.io/p.png"}],
            files=files,
        )
    )
    assert [len(p.text or "") for p in parts] == [4096, 904 + 1 + len("https://x.io/p.png"), 0]
    assert parts[1].refs == ["photo-1_2_k"] and len(parts[1].files) == 9
    assert parts[2].text is None and len(parts[2].files) == 2
    assert [len(p.files) for p in plan(out(None, files=files[:3]))] == [3]
    with pytest.raises(PermanentError, match="nothing to send"):
        plan(out(None))
    with pytest.raises(PermanentError, match="VK id"):
        plan(out("x", attachments=[{"type": "image"}]))


async def test_send_text(vk: FakeVk) -> None:
    result = await connector().send(CREDS, settings(vk), out())
    [call] = vk.calls_of("messages.send")
    assert call.params["peer_ids"] == str(USER_ID)
    assert call.params["random_id"] == str(random_id_for(1, 0))
    assert call.params["message"] == "Добрый день!"
    assert call.params["v"] == "5.199"
    assert "token_in_url" not in call.params  # the token travels in the body only
    assert "attachment" not in call.params and "keyboard" not in call.params
    # The key an inbound reply to this message will name (group:peer:conversation id).
    assert result.provider_message_id == f"{GROUP_ID}:{USER_ID}:101"


async def test_a_retried_send_is_delivered_once(vk: FakeVk) -> None:
    """VK took the message but the answer came too late: the retry has the same random_id,
    so VK sends nothing again and answers the first message."""
    vk.answers["messages.send"] = [("sleep", 1.0)]
    slow = connector(timeout=0.3)
    with pytest.raises(TemporaryError, match="timed out"):
        await slow.send(CREDS, settings(vk), out(message_id=77))
    result = await connector().send(CREDS, settings(vk), out(message_id=77))
    assert len(vk.delivered) == 1
    assert result.provider_message_id == f"{GROUP_ID}:{USER_ID}:101"
    ids = [c.params["random_id"] for c in vk.calls_of("messages.send")]
    assert ids == [str(random_id_for(77, 0))] * 2


async def test_long_text_parts_and_a_retry_after_a_later_part_failed(vk: FakeVk) -> None:
    vk.answers["messages.send"] = ["pass", VK["error_6"]]
    vk_connector = connector()
    text = "a" * 4096 + "b" * 10
    with pytest.raises(TemporaryError) as caught:
        await vk_connector.send(CREDS, settings(vk), out(text, message_id=5))
    assert caught.value.retry_after == 1.0
    result = await vk_connector.send(CREDS, settings(vk), out(text, message_id=5))
    assert [d["message"] for d in vk.delivered] == ["a" * 4096, "b" * 10]
    sends = vk.calls_of("messages.send")
    assert [c.params["random_id"] for c in sends] == [
        str(random_id_for(5, 0)),
        str(random_id_for(5, 1)),
        str(random_id_for(5, 1)),  # the retry resumed at the failed part
    ]
    assert result.provider_message_id == f"{GROUP_ID}:{USER_ID}:101,{GROUP_ID}:{USER_ID}:102"


@pytest.mark.parametrize(
    ("answer", "kind", "code", "unreachable", "words"),
    [
        ("error_6", VkTemporaryError, 6, None, "too many requests"),
        ("error_9", VkTemporaryError, 9, None, "flood control"),
        ("error_901", VkPermanentError, 901, True, "not allowed messages"),
        ("error_902", VkPermanentError, 902, True, "privacy settings"),
        ("send_item_error", VkPermanentError, 901, True, "not allowed messages"),
        ("error_5", VkPermanentError, 5, False, "update the channel's access_token"),
        ("error_7", VkPermanentError, 7, False, "lacks the messages"),
        ("error_15", VkPermanentError, 15, False, "access denied"),
        ("error_914", VkPermanentError, 914, False, "too long"),
    ],
)
async def test_error_mapping(
    vk: FakeVk, answer: str, kind: type, code: int, unreachable: bool | None, words: str
) -> None:
    vk.answers["messages.send"] = [VK[answer]]
    with pytest.raises(kind) as caught:
        await connector().send(CREDS, settings(vk), out())
    error = caught.value
    assert error.code == code
    assert words in error.reason
    if unreachable is None:
        assert error.retry_after and error.retry_after >= 1
    else:
        assert error.recipient_unreachable is unreachable
    assert TOKEN not in error.reason


async def test_unknown_error_codes_are_permanent_and_unreachable_server_temporary(
    vk: FakeVk,
) -> None:
    vk.answers["messages.send"] = [{"error": {"error_code": 4242, "error_msg": "New thing"}}]
    with pytest.raises(PermanentError, match="VK 4242: New thing"):
        await connector().send(CREDS, settings(vk), out())
    gone = {"group_id": GROUP_ID, "api_base": f"http://127.0.0.1:{free_port()}/method"}
    with pytest.raises(TemporaryError, match="unreachable"):
        await connector().send(CREDS, gone, out())


async def test_channel_and_recipient_must_make_sense(vk: FakeVk) -> None:
    with pytest.raises(PermanentError, match="group_id"):
        await connector().send(CREDS, {"api_base": vk.api_base}, out())
    with pytest.raises(PermanentError, match="peer id"):
        await connector().send(CREDS, settings(vk), OutboundMessage(1, "anna", "hi"))
    with pytest.raises(PermanentError, match="access_token"):
        await connector().send({}, settings(vk), out())
    with pytest.raises(PermanentError, match="access_token"):
        await connector().send({"access_token": "stolen?"}, settings(vk), out())
    assert vk.delivered == []


async def test_files_go_through_the_upload_flow(vk: FakeVk) -> None:
    files = [
        OutboundFile("box.jpg", "image/jpeg", JPEG),
        OutboundFile("invoice.pdf", "application/pdf", PDF),
        OutboundFile("anim.gif", "image/gif", b"GIF89a"),  # a gif keeps moving as a doc
    ]
    result = await connector().send(
        CREDS, settings(vk), out("Счёт и фото", files=files, attachments=[{"vk": "photo-1_2_k"}])
    )
    assert [(u.field, u.filename, u.content) for u in vk.uploads] == [
        ("photo", "box.jpg", JPEG),
        ("file", "invoice.pdf", PDF),
        ("file", "anim.gif", b"GIF89a"),
    ]
    [server] = vk.calls_of("photos.getMessagesUploadServer")
    assert server.params["peer_id"] == str(USER_ID)
    [saved] = vk.calls_of("photos.saveMessagesPhoto")
    assert saved.params["photo"] == VK["photo_uploaded"]["photo"]
    assert saved.params["server"] == str(VK["photo_uploaded"]["server"])
    assert [c.params["title"] for c in vk.calls_of("docs.save")] == ["invoice.pdf", "anim.gif"]
    [sent] = vk.delivered
    assert sent["message"] == "Счёт и фото"
    assert sent["attachment"] == (
        f"photo-1_2_k,photo-{GROUP_ID}_457239101_f00dfeedbeef0001,"
        f"doc-{GROUP_ID}_691240002,doc-{GROUP_ID}_691240003"
    )
    assert result.provider_message_id == f"{GROUP_ID}:{USER_ID}:101"


async def test_upload_refused_by_vk_is_permanent(vk: FakeVk) -> None:
    vk.answers["photos.getMessagesUploadServer"] = [
        {"response": {"upload_url": f"{vk.base_url}/upload/doc"}}
    ]
    with pytest.raises(PermanentError, match="as a photo"):  # VK's answer had no photo
        await connector().send(
            CREDS, settings(vk), out(None, files=[OutboundFile("x.jpg", "image/jpeg", JPEG)])
        )
    assert vk.delivered == []


async def test_more_than_ten_files_make_two_messages(vk: FakeVk) -> None:
    files = [OutboundFile(f"{i}.pdf", "application/pdf", PDF) for i in range(12)]
    await connector().send(CREDS, settings(vk), out("Документы", files=files))
    first, second = vk.delivered
    assert first["message"] == "Документы" and len(first["attachment"].split(",")) == 10
    assert "message" not in second and len(second["attachment"].split(",")) == 2
    assert first["random_id"] != second["random_id"]


async def test_buttons_become_an_inline_keyboard_on_the_last_part(vk: FakeVk) -> None:
    buttons = [[{"text": "Да", "data": "courier:ok"}, {"text": "Сайт", "url": "https://x.io"}]]
    await connector().send(CREDS, settings(vk), out("c" * 5000, meta={"buttons": buttons}))
    first, last = vk.delivered
    assert "keyboard" not in first
    assert json.loads(last["keyboard"]) == {
        "inline": True,
        "buttons": [
            [
                {"action": {"type": "text", "label": "Да", "payload": '{"button": "courier:ok"}'}},
                {"action": {"type": "open_link", "link": "https://x.io", "label": "Сайт"}},
            ]
        ],
    }
    with pytest.raises(PermanentError, match="Invalid inline button"):
        await connector().send(CREDS, settings(vk), out(meta={"buttons": [{"data": "x"}]}))


async def test_users_group_and_confirmation_code(vk: FakeVk) -> None:
    api = connector().api_for(settings(vk))
    anna, deleted = await api.users_get(TOKEN, [USER_ID, 100500])
    assert (anna.name, anna.screen_name) == ("Анна Смирнова", "anna.smirnova")
    assert anna.photo_url and anna.photo_url.startswith("https://sun9-55.userapi.com/")
    assert deleted.deactivated == "deleted"
    [call] = vk.calls_of("users.get")
    assert call.params["user_ids"] == f"{USER_ID},100500"
    assert await api.users_get(TOKEN, []) == []
    group = await api.get_group(TOKEN)
    assert (group.id, group.screen_name) == (GROUP_ID, "flora_delivery")
    assert await api.get_confirmation_code(TOKEN, GROUP_ID) == "8c2f1a7e"
    with pytest.raises(PermanentError, match="invalid or revoked"):
        await api.get_group("wrong-token")


async def test_fetch_media(vk: FakeVk) -> None:
    vk.files["photo.jpg"] = (JPEG, "image/jpeg")
    vk_connector = connector()
    photo = {"type": "image", "url": f"{vk.base_url}/files/photo.jpg", "mime_type": "image/jpeg"}
    media = await vk_connector.fetch_media(CREDS, settings(vk), photo)
    assert (media.content, media.content_type, media.filename) == (JPEG, "image/jpeg", "photo.jpg")
    moved = await vk_connector.fetch_media(
        CREDS, settings(vk), {"url": f"{vk.base_url}/files/moved", "filename": "box.jpg"}
    )
    assert (moved.content, moved.filename) == (JPEG, "box.jpg")
    with pytest.raises(MediaUnavailable):
        await vk_connector.fetch_media(CREDS, settings(vk), {"url": f"{vk.base_url}/files/gone"})
    vk.file_answers = [503]
    with pytest.raises(TemporaryError):
        await vk_connector.fetch_media(CREDS, settings(vk), photo)
    vk.files["expired"] = (b"<html>access error</html>", "text/html")
    with pytest.raises(MediaUnavailable, match="page instead of the file"):
        await vk_connector.fetch_media(
            CREDS, settings(vk), {"url": f"{vk.base_url}/files/expired", "mime_type": "a/b"}
        )
    vk.files["sticker"] = (b"RIFF....WEBP", "image/webp")
    sticker = await vk_connector.fetch_media(
        CREDS, settings(vk), {"type": "sticker", "url": f"{vk.base_url}/files/sticker"}
    )
    assert sticker.content_type == "image/webp"
    with pytest.raises(MediaUnavailable, match="as a file"):
        await vk_connector.fetch_media(CREDS, settings(vk), {"type": "video", "link": "x"})


async def test_fetch_media_goes_to_vk_hosts_only(vk: FakeVk) -> None:
    vk.files["photo.jpg"] = (JPEG, "image/jpeg")
    strict = VkConnector()  # the production host list
    for url in (
        f"{vk.base_url}/files/photo.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "https://userapi.com.evil.example/x.jpg",
        "file:///etc/passwd",
    ):
        with pytest.raises(MediaUnavailable, match="not a VK file address"):
            await strict.fetch_media(CREDS, settings(vk), {"url": url})
    assert vk.calls == []


async def test_channel_setup_calls(vk: FakeVk) -> None:
    api = connector().api_for(settings(vk))
    await api.enable_long_poll(TOKEN, GROUP_ID)
    [lp] = vk.calls_of("groups.setLongPollSettings")
    assert {k: lp.params[k] for k in ("group_id", "enabled", "api_version", "message_deny")} == {
        "group_id": str(GROUP_ID),
        "enabled": "1",
        "api_version": "5.199",
        "message_deny": "1",
    }
    url = "https://cc.example/vk/callback/7"
    assert await api.add_callback_server(TOKEN, GROUP_ID, url, "s3cret", "chatcentre-main") == 3
    [added] = vk.calls_of("groups.addCallbackServer")
    assert (added.params["url"], added.params["secret_key"]) == (url, "s3cret")
    assert added.params["title"] == "chatcentre-mai"  # VK takes 14 characters
    [configured] = vk.calls_of("groups.setCallbackSettings")
    assert configured.params["server_id"] == "3"
    assert configured.params["message_new"] == configured.params["message_allow"] == "1"
