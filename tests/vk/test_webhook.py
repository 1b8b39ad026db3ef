"""The Callback API through the app's HTTP API: the channel's creation (token checked with
VK), the confirmation handshake, the secret, redeliveries, media, edits, allow/deny."""

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from app import plugins
from app.cli import cli
from app.config import get_settings
from connectors import registry as connectors
from tests.conftest import Running
from tests.connectors.vk.fake_vk import CONFIRMATION, GROUP_ID, SECRET, TOKEN, USER_ID, FakeVk
from tests.helpers import auth
from tests.vk.helpers import create_community, event, messages, post


@pytest.fixture
async def community(run: Running, vk: FakeVk) -> dict[str, Any]:
    admin = await run.admin_token()
    channel = await create_community(run.client, admin)
    return {"admin": admin, "id": channel["id"], "channel": channel}


async def count(run: Running, sql: str) -> int:
    async with run.ctx.engine.connect() as conn:
        return int((await conn.execute(text(sql))).scalar_one())


async def test_a_community_is_checked_with_vk_and_its_secrets_never_shown(
    run: Running, vk: FakeVk
) -> None:
    admin = await run.admin_token()
    channel = await create_community(run.client, admin, credentials={"access_token": TOKEN})
    assert channel["settings"] == {
        "mode": "callback",  # a public URL is set
        "group_id": GROUP_ID,
        "group_name": "Доставка цветов «Флора»",
        "group_screen_name": "flora_delivery",
        "confirmation_code": CONFIRMATION,  # read from VK with the token
    }
    assert channel["credential_names"] == ["access_token", "secret"]
    secret = channel["generated_credentials"]["secret"]  # shown once, for VK's settings
    assert len(secret) == 32 and TOKEN not in json.dumps(channel)
    assert [c.method for c in vk.calls] == [
        "groups.getById",
        "groups.getCallbackConfirmationCode",
    ]
    r = await run.client.get(f"/api/v1/channels/{channel['id']}", headers=auth(admin))
    assert secret not in r.text and TOKEN not in r.text

    # The same community twice, a token of another one, bad settings: refused.
    again = await create_community(run.client, admin, expect=409)
    assert again["error"]["code"] == "community_connected"
    other = await create_community(run.client, admin, expect=422, group_id=1)
    assert other["error"]["code"] == "wrong_community"
    bad = await create_community(run.client, admin, expect=422, credentials={"access_token": "x"})
    assert bad["error"]["code"] == "invalid_access_token"
    assert "x" not in bad["error"]["message"].split(":")[0]
    mode = await create_community(run.client, admin, expect=422, mode="webhook")
    assert mode["error"]["code"] == "invalid_settings"
    r = await run.client.patch(
        f"/api/v1/channels/{channel['id']}", json={"settings": {"mode": "x"}}, headers=auth(admin)
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_settings"
    r = await run.client.patch(
        f"/api/v1/channels/{channel['id']}",
        json={"settings": {"group_name": "mine"}},
        headers=auth(admin),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_settings"


async def test_the_confirmation_handshake_answers_the_code_as_text(
    run: Running, community: dict[str, Any]
) -> None:
    r = await post(run.client, community["id"], {"type": "confirmation", "group_id": GROUP_ID})
    assert r.status_code == 200
    assert r.text == CONFIRMATION
    assert r.headers["content-type"].startswith("text/plain")
    other = await post(run.client, community["id"], {"type": "confirmation", "group_id": 5})
    assert other.status_code == 403  # another community's handshake
    unknown = await post(run.client, 999, {"type": "confirmation", "group_id": GROUP_ID})
    assert unknown.status_code == 404


async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_stored(
    run: Running, community: dict[str, Any]
) -> None:
    forged = event("message_new_text")
    forged["secret"] = SECRET + "x"
    r = await post(run.client, community["id"], forged)
    assert r.status_code == 403 and r.json()["error"]["code"] == "bad_secret"
    del forged["secret"]
    assert (await post(run.client, community["id"], forged)).status_code == 403
    deny = event("message_deny")
    deny["secret"] = "nope"
    assert (await post(run.client, community["id"], deny)).status_code == 403
    assert await count(run, "SELECT count(*) FROM messages") == 0
    assert await count(run, "SELECT count(*) FROM contact_identities") == 0


async def test_malformed_and_oversized_bodies(run: Running, community: dict[str, Any]) -> None:
    r = await post(run.client, community["id"], b"{not json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_event"
    huge = event("message_new_text", text="a" * 300_000)
    r = await post(run.client, community["id"], json.dumps(huge).encode())
    assert r.status_code == 413
    assert await count(run, "SELECT count(*) FROM messages") == 0


async def test_a_redelivered_message_is_stored_once_with_the_senders_name(
    run: Running, community: dict[str, Any], vk: FakeVk
) -> None:
    for _ in range(3):  # VK retries what it did not see answered "ok"
        r = await post(run.client, community["id"], event("message_new_text"))
        assert r.status_code == 200 and r.text == "ok"
    [msg] = await messages(run.client, community["admin"])
    assert msg["text"] == "Здравствуйте! Заказ №4521 ещё в пути?"
    assert msg["direction"] == "inbound"
    [call] = vk.calls_of("users.get")  # once per person
    assert call.params["user_ids"] == str(USER_ID)
    r = await run.client.get("/api/v1/conversations", headers=auth(community["admin"]))
    contact = r.json()["items"][0]["contact"]
    assert contact["name"] == "Анна Смирнова"
    # Events a chat centre does not need are answered "ok" too (else VK retries them).
    typing = await post(run.client, community["id"], event("message_typing_state"))
    assert typing.status_code == 200 and typing.text == "ok"


async def test_media_geo_forwards_replies_and_buttons(
    run: Running, community: dict[str, Any], vk: FakeVk
) -> None:
    names = [
        "message_new_photo",
        "message_new_doc",
        "message_new_voice",
        "message_new_sticker",
        "message_new_geo",
        "message_new_forward_reply",
        "message_new_button",
    ]
    for name in names:
        r = await post(run.client, community["id"], event(name))
        assert r.status_code == 200 and r.text == "ok", name
    got = {m["kind"]: m for m in await messages(run.client, community["admin"])}
    assert set(got) == {"image", "document", "voice", "sticker", "location", "text", "button"}
    assert [a["type"] for a in got["image"]["attachments"]] == ["image", "image"]
    assert got["document"]["attachments"][0]["filename"].endswith(".pdf")
    assert [a["type"] for a in got["voice"]["attachments"]] == ["voice"]
    assert got["location"]["location"]["latitude"]
    forwarded = got["text"]
    assert "Forwarded from" in forwarded["text"]
    assert [a["type"] for a in forwarded["attachments"]] == ["image"]  # the forward's photo
    assert got["button"]["text"]

    # An inbound file is fetched from VK's own host for the operator (here: the fake).
    vk.files["photo.jpg"] = (b"\xff\xd8\xff\xe0jpeg", "image/jpeg")
    photo = event("message_new_photo", conversation_message_id=99, id=5000)
    photo["object"]["message"]["attachments"][0]["photo"]["orig_photo"] = {
        "url": f"{vk.base_url}/files/photo.jpg",
        "width": 10,
        "height": 10,
    }
    assert (await post(run.client, community["id"], photo)).status_code == 200
    stored = max(
        (m for m in await messages(run.client, community["admin"]) if m["kind"] == "image"),
        key=lambda m: m["id"],
    )
    r = await run.client.get(
        f"/api/v1/messages/{stored['id']}/attachments/0", headers=auth(community["admin"])
    )
    assert r.status_code == 200 and r.content == b"\xff\xd8\xff\xe0jpeg"


async def test_an_edit_changes_the_stored_message(run: Running, community: dict[str, Any]) -> None:
    assert (await post(run.client, community["id"], event("message_new_text"))).status_code == 200
    r = await post(run.client, community["id"], event("message_edit"))
    assert r.status_code == 200 and r.text == "ok"
    [msg] = await messages(run.client, community["admin"])
    assert msg["text"] == "Здравствуйте! Заказ №4521 уже в пути? Жду с утра."
    assert msg["edited_at"] is not None


async def test_deny_is_recorded_and_a_reply_is_refused_before_queueing(
    run: Running, community: dict[str, Any], vk: FakeVk
) -> None:
    admin = community["admin"]
    assert (await post(run.client, community["id"], event("message_new_text"))).status_code == 200
    r = await run.client.get("/api/v1/conversations", headers=auth(admin))
    conv = r.json()["items"][0]
    assert (await post(run.client, community["id"], event("message_deny"))).status_code == 200
    r = await run.client.get(f"/api/v1/contacts/{conv['contact']['id']}", headers=auth(admin))
    assert [i["reachable"] for i in r.json()["identities"]] == [False]

    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages", json={"text": "Ау?"}, headers=auth(admin)
    )
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "vk_messages_denied"
    assert "denied messages" in r.json()["error"]["message"]
    assert await count(run, "SELECT count(*) FROM messages WHERE direction = 'outbound'") == 0
    assert await count(run, "SELECT count(*) FROM outbox") == 0
    # A private note is not a send: still allowed.
    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages",
        json={"text": "she said no", "private": True},
        headers=auth(admin),
    )
    assert r.status_code == 201

    assert (await post(run.client, community["id"], event("message_allow"))).status_code == 200
    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages", json={"text": "Ау?"}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text


async def test_allow_from_someone_who_never_wrote_makes_a_contact(
    run: Running, community: dict[str, Any]
) -> None:
    assert (await post(run.client, community["id"], event("message_allow"))).status_code == 200
    rows = await count(
        run,
        f"SELECT count(*) FROM contact_identities WHERE external_id = '{USER_ID}' AND reachable",
    )
    assert rows == 1
    assert await count(run, "SELECT count(*) FROM conversations") == 0


async def test_cli_adds_a_community(
    run: Running, vk: FakeVk, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = run.ctx.settings
    monkeypatch.setenv("CHATCENTRE_DATABASE_URL", run.ctx.database_url)
    monkeypatch.setenv("CHATCENTRE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CHATCENTRE_VK_API_BASE", vk.api_base)
    monkeypatch.setenv("CHATCENTRE_PUBLIC_URL", "https://chat.example.com")
    get_settings.cache_clear()
    connectors.unregister("vk")  # as in a fresh `chatcentre` process
    args = ["channel", "add", "vk", "--group-id", str(GROUP_ID), "--access-token"]
    try:
        # The CLI runs its own event loop: give it a thread so the fake keeps serving.
        result = await asyncio.to_thread(CliRunner().invoke, cli, [*args, TOKEN])
        bad = await asyncio.to_thread(
            CliRunner().invoke, cli, [*args, "nope", "--mode", "longpoll"]
        )
    finally:
        get_settings.cache_clear()
        plugins.configure(settings)
    assert result.exit_code == 0, result.output
    assert "community Доставка цветов «Флора» (id 229876543), callback mode" in result.output
    assert "https://chat.example.com/webhooks/vk/1" in result.output
    assert f"confirmation string answered: {CONFIRMATION}" in result.output
    assert "secret (shown once): " in result.output
    assert TOKEN not in result.output
    assert bad.exit_code == 1 and "VK refused the access token" in bad.output
