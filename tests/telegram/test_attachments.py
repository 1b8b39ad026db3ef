"""Operator replies and integration sends with uploaded files, through the outbox to the
fake Bot API: photos and documents go up as multipart with their bytes intact, the text
is the first file's caption, and a retry never sends a file twice."""

import asyncio
from typing import Any

import pytest

from app.operators import scopes
from tests.attachments.support import PDF, PNG, uploaded
from tests.conftest import Running
from tests.helpers import auth
from tests.telegram.fake_bot_api import FakeBotApi, load_update
from tests.telegram.helpers import conversations, create_bot, deliver, secret_of
from tests.telegram.test_outbound import settled

CHAT = 518003941


@pytest.fixture
async def conversation(run: Running, fake_api: FakeBotApi) -> dict[str, Any]:
    admin = await run.admin_token()
    channel = await create_bot(run.client, admin)
    r = await deliver(run.client, channel["id"], load_update("update_text"), secret_of(fake_api))
    assert r.status_code == 200
    [conv] = await conversations(run.client, admin)
    return {"admin": admin, "id": conv["id"], "contact_id": conv["contact"]["id"]}


async def reply_with_files(run: Running, conv: dict[str, Any], text: str | None) -> dict:
    headers = auth(conv["admin"])
    photo = await uploaded(run.client, headers, "box.png", PNG)
    invoice = await uploaded(run.client, headers, "invoice 4521.pdf", PDF)
    body: dict[str, Any] = {"attachment_ids": [photo["id"], invoice["id"]]}
    if text is not None:
        body["text"] = text
    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages", json=body, headers=headers
    )
    assert r.status_code == 201, r.text
    message: dict[str, Any] = r.json()
    return message


async def test_a_reply_with_a_photo_and_a_document_sends_both_files_intact(
    run: Running, conversation: dict[str, Any], fake_api: FakeBotApi
) -> None:
    message = await reply_with_files(run, conversation, "Ваша коробка и счёт")
    assert [a["filename"] for a in message["attachments"]] == ["box.png", "invoice 4521.pdf"]
    assert message["kind"] == "image"
    sent = await settled(run, conversation, message["id"])
    assert sent["delivery_state"] == "sent", sent
    photo, document = fake_api.uploads
    assert (photo.method, photo.chat_id, photo.filename) == ("sendPhoto", CHAT, "box.png")
    assert photo.content == PNG
    assert photo.caption == "Ваша коробка и счёт"  # the caption goes with the first file
    assert (document.method, document.filename, document.caption) == (
        "sendDocument",
        "invoice 4521.pdf",
        None,
    )
    assert document.content == PDF
    assert fake_api.calls_of("sendMessage") == []  # no separate text message
    # The message lists its files the same way inbound media is listed; each downloads.
    [listed] = [
        m
        for m in (
            await run.client.get(
                f"/api/v1/conversations/{conversation['id']}/messages",
                headers=auth(conversation["admin"]),
            )
        ).json()["items"]
        if m["id"] == message["id"]
    ]
    for item, content in zip(listed["attachments"], (PNG, PDF), strict=True):
        assert set(item) >= {"id", "type", "filename", "content_type", "size", "url"}
        r = await run.client.get(item["url"], headers=auth(conversation["admin"]))
        assert r.status_code == 200 and r.content == content


async def test_a_file_without_text_and_a_long_text_with_files(
    run: Running, conversation: dict[str, Any], fake_api: FakeBotApi
) -> None:
    first = await reply_with_files(run, conversation, None)
    assert (await settled(run, conversation, first["id"]))["delivery_state"] == "sent"
    assert [u.caption for u in fake_api.uploads] == [None, None]
    long_text = "слово " * 300  # over the 1024-character caption limit: its own message
    second = await reply_with_files(run, conversation, long_text)
    assert (await settled(run, conversation, second["id"]))["delivery_state"] == "sent"
    assert [c.params["text"] for c in fake_api.calls_of("sendMessage")] == [long_text]
    assert [u.method for u in fake_api.uploads] == ["sendPhoto", "sendDocument"] * 2


async def test_a_retry_after_the_second_file_failed_does_not_send_the_first_again(
    run: Running, conversation: dict[str, Any], fake_api: FakeBotApi
) -> None:
    fake_api.fail("sendDocument", 502, times=2)
    message = await reply_with_files(run, conversation, "caption")
    sent = await settled(run, conversation, message["id"])
    assert sent["delivery_state"] == "sent", sent
    assert len(fake_api.calls_of("sendDocument")) == 3  # two refused, then accepted
    assert [u.method for u in fake_api.uploads] == ["sendPhoto", "sendDocument"]
    assert len(fake_api.calls_of("sendPhoto")) == 1
    await asyncio.sleep(0.3)
    assert len(fake_api.uploads) == 2


async def test_an_integration_send_carries_its_files(
    run: Running, conversation: dict[str, Any], fake_api: FakeBotApi
) -> None:
    r = await run.client.post(
        "/api/v1/api-keys",
        json={"name": "shop", "scopes": [scopes.MESSAGES_WRITE]},
        headers=auth(conversation["admin"]),
    )
    key = {"X-Api-Key": r.json()["key"]}
    invoice = await uploaded(run.client, key, "invoice.pdf", PDF)
    body = {
        "idempotency_key": "order-77-invoice",
        "text": "Счёт по заказу 77",
        "contact_id": conversation["contact_id"],
        "channel_id": (await _channel_id(run, conversation)),
        "attachment_ids": [invoice["id"]],
    }
    r = await run.client.post("/api/v1/messages", json=body, headers=key)
    assert r.status_code == 201, r.text
    again = await run.client.post("/api/v1/messages", json=body, headers=key)
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    assert (await settled(run, conversation, r.json()["id"]))["delivery_state"] == "sent"
    [document] = fake_api.uploads
    assert (document.method, document.filename, document.caption, document.content) == (
        "sendDocument",
        "invoice.pdf",
        "Счёт по заказу 77",
        PDF,
    )


async def _channel_id(run: Running, conv: dict[str, Any]) -> int:
    r = await run.client.get(f"/api/v1/conversations/{conv['id']}", headers=auth(conv["admin"]))
    return int(r.json()["channel_id"])
