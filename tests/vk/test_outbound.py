"""Replies through the outbox to the fake VK: random_id makes a retried send a no-op at VK,
rate errors are retried, 901 fails at once with a readable reason, long texts are split,
files go through VK's upload flow."""

from typing import Any

import pytest

from connectors.vk.connector import random_id_for
from tests.attachments.support import PDF, PNG, upload
from tests.conftest import Running
from tests.connectors.vk.fake_vk import VK, FakeVk
from tests.helpers import auth
from tests.vk.conftest import vk_settings
from tests.vk.helpers import create_community, event, messages, post, until


@pytest.fixture
def settings_overrides(vk: FakeVk) -> dict[str, Any]:
    return vk_settings(vk, vk_timeout_seconds=1.0, max_message_chars=10000)


@pytest.fixture
async def conversation(run: Running, vk: FakeVk) -> dict[str, Any]:
    admin = await run.admin_token()
    channel = await create_community(
        run.client, admin, rate_per_account="1000/second", rate_per_chat="1000/second"
    )
    assert (await post(run.client, channel["id"], event("message_new_text"))).status_code == 200
    r = await run.client.get("/api/v1/conversations", headers=auth(admin))
    [conv] = r.json()["items"]
    return {"admin": admin, "id": conv["id"], "channel": channel["id"]}


async def reply(run: Running, conv: dict[str, Any], **body: Any) -> dict[str, Any]:
    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages", json=body, headers=auth(conv["admin"])
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def outbound(run: Running, conv: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in await messages(run.client, conv["admin"]) if m["direction"] == "outbound"]


async def settled(run: Running, conv: dict[str, Any], n: int = 1) -> list[dict[str, Any]]:
    async def done() -> bool:
        out = await outbound(run, conv)
        return len(out) == n and all(m["delivery_state"] in ("sent", "failed") for m in out)

    await until(done, timeout=20)
    return await outbound(run, conv)


async def test_a_reply_goes_out_with_a_random_id_and_error_6_is_retried_once_delivered(
    run: Running, vk: FakeVk, conversation: dict[str, Any]
) -> None:
    vk.answers["messages.send"] = [VK["error_6"]]
    sent = await reply(run, conversation, text="Заказ приедет в четверг.")
    [msg] = await settled(run, conversation)
    assert msg["delivery_state"] == "sent", msg["failure_reason"]
    calls = vk.calls_of("messages.send")
    assert len(calls) == 2  # refused (6: too many per second), then sent
    assert {c.params["random_id"] for c in calls} == {str(random_id_for(sent["id"], 0))}
    assert [d["message"] for d in vk.delivered] == ["Заказ приедет в четверг."]
    assert calls[0].params["peer_ids"] == "743784474"


async def test_a_send_vk_took_but_we_never_heard_of_is_not_delivered_twice(
    run: Running, vk: FakeVk, conversation: dict[str, Any]
) -> None:
    vk.answers["messages.send"] = [("sleep", 1.5)]  # VK sends it, its answer comes too late
    await reply(run, conversation, text="Один раз")
    [msg] = await settled(run, conversation)
    assert msg["delivery_state"] == "sent"
    assert len(vk.calls_of("messages.send")) == 2  # our retry, with the same random_id
    assert [d["message"] for d in vk.delivered] == ["Один раз"]  # ...which VK dropped


async def test_901_fails_at_once_with_a_readable_reason_and_later_replies_get_409(
    run: Running, vk: FakeVk, conversation: dict[str, Any]
) -> None:
    vk.answers["messages.send"] = [VK["error_901"]]
    await reply(run, conversation, text="Здравствуйте")
    [msg] = await settled(run, conversation)
    assert msg["delivery_state"] == "failed"
    assert msg["failure_reason"].startswith("VK 901: the user has not allowed messages")
    assert len(vk.calls_of("messages.send")) == 1  # no retry
    r = await run.client.post(
        f"/api/v1/conversations/{conversation['id']}/messages",
        json={"text": "Ещё раз"},
        headers=auth(conversation["admin"]),
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "vk_messages_denied"
    # The client writes again: they can be answered again.
    again = event("message_new_text", conversation_message_id=58, id=1030, text="Я тут")
    assert (await post(run.client, conversation["channel"], again)).status_code == 200
    await reply(run, conversation, text="Отлично")


async def test_a_long_text_is_split_at_4096(
    run: Running, vk: FakeVk, conversation: dict[str, Any]
) -> None:
    await reply(run, conversation, text="слово " * 1500)  # 9000 characters
    parts = await settled(run, conversation, 3)
    assert all(m["delivery_state"] == "sent" for m in parts)
    lengths = [len(d["message"]) for d in vk.delivered]
    assert len(lengths) == 3 and max(lengths) <= 4096


async def test_photos_and_documents_go_through_the_upload_flow(
    run: Running, vk: FakeVk, conversation: dict[str, Any]
) -> None:
    headers = auth(conversation["admin"])
    ids = []
    for name, content in (("box.png", PNG), ("invoice.pdf", PDF)):
        r = await upload(run.client, headers, name, content)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    await reply(run, conversation, text="Коробка и счёт", attachment_ids=ids)
    [msg] = await settled(run, conversation)
    assert msg["delivery_state"] == "sent", msg["failure_reason"]
    assert [(u.field, u.filename, u.content) for u in vk.uploads] == [
        ("photo", "box.png", PNG),
        ("file", "invoice.pdf", PDF),
    ]
    [sent] = vk.delivered
    assert sent["message"] == "Коробка и счёт"
    photo, doc = sent["attachment"].split(",")
    assert photo.startswith("photo") and doc.startswith("doc")
