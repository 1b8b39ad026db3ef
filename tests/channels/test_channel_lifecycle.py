"""PATCH and DELETE for every channel type: PATCH checks settings and credentials by
creation's rules (nothing changes on a refusal); DELETE stops the channel and keeps its
history. Telegram's provider side is covered in tests/telegram/test_channel_changes.py."""

import asyncio
from typing import Any

import pytest

from tests.conftest import Running
from tests.helpers import auth

WHATSAPP_CREDENTIALS = {
    "phone_number_id": "106540352242922",
    "access_token": "EAAtoken",
    "app_secret": "app-secret",
    "verify_token": "verify-me",
}


async def create(run: Running, admin: str, **body: Any) -> dict[str, Any]:
    r = await run.client.post("/api/v1/channels", json={"name": "C", **body}, headers=auth(admin))
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


@pytest.mark.parametrize(
    ("created", "patch"),
    [
        ({"type": "webchat"}, {"settings": {"allowed_origins": ["ftp://shop.example"]}}),
        ({"type": "webchat"}, {"settings": {"allowed_origins": "https://shop.example"}}),
        (
            {"type": "whatsapp", "credentials": WHATSAPP_CREDENTIALS},
            {"settings": {"graph_api_base": "ftp://graph.example"}},
        ),
        (
            {"type": "whatsapp", "credentials": WHATSAPP_CREDENTIALS},
            {"credentials": {"phone_number_id": "not-a-number"}},
        ),
        (
            {"type": "whatsapp", "credentials": WHATSAPP_CREDENTIALS},
            {"credentials": {"access_token": "  "}},
        ),
    ],
)
async def test_patch_applies_creations_rules(
    run: Running, created: dict[str, Any], patch: dict[str, Any]
) -> None:
    admin = await run.admin_token()
    channel = await create(run, admin, **created)
    r = await run.client.patch(f"/api/v1/channels/{channel['id']}", json=patch, headers=auth(admin))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] in ("invalid_settings", "missing_credentials")
    after = (await run.client.get(f"/api/v1/channels/{channel['id']}", headers=auth(admin))).json()
    assert after["settings"] == channel["settings"]


async def test_deleting_a_widget_closes_it_and_keeps_its_history(run: Running) -> None:
    admin = await run.admin_token()
    widget = await create(run, admin, type="webchat")
    key = widget["public_key"]
    session = (await run.client.post(f"/widget/v1/{key}/sessions", json={})).json()
    visitor = {"Authorization": f"Bearer {session['visitor_token']}"}
    r = await run.client.post(f"/widget/v1/{key}/messages", json={"text": "hi"}, headers=visitor)
    assert r.status_code in (200, 201), r.text

    operator = await run.operator_token()
    r = await run.client.delete(f"/api/v1/channels/{widget['id']}", headers=auth(operator))
    assert r.status_code == 403  # admins only
    r = await run.client.delete(f"/api/v1/channels/{widget['id']}", headers=auth(admin))
    assert r.status_code == 204, r.text
    r = await run.client.delete(f"/api/v1/channels/{widget['id']}", headers=auth(admin))
    assert r.status_code == 404

    assert (await run.client.get("/api/v1/channels", headers=auth(admin))).json() == []
    r = await run.client.patch(
        f"/api/v1/channels/{widget['id']}", json={"is_active": True}, headers=auth(admin)
    )
    assert r.status_code == 404
    r = await run.client.post(f"/widget/v1/{key}/messages", json={"text": "x"}, headers=visitor)
    assert r.status_code == 404
    r = await run.client.post(f"/widget/v1/{key}/sessions", json={})
    assert r.status_code == 404

    [conv] = [
        c["id"]
        for c in (await run.client.get("/api/v1/conversations", headers=auth(admin))).json()[
            "items"
        ]
    ]
    r = await run.client.get(f"/api/v1/conversations/{conv}/messages", headers=auth(admin))
    assert r.status_code == 200
    assert [m["text"] for m in r.json()["items"]] == ["hi"]


async def test_a_long_widget_reply_stays_one_message(run: Running) -> None:
    """The widget shows any length: nothing to split (Telegram and WhatsApp split at 4096)."""
    admin = await run.admin_token()
    widget = await create(run, admin, type="webchat")
    session = (await run.client.post(f"/widget/v1/{widget['public_key']}/sessions", json={})).json()
    visitor = {"Authorization": f"Bearer {session['visitor_token']}"}
    await run.client.post(
        f"/widget/v1/{widget['public_key']}/messages", json={"text": "hi"}, headers=visitor
    )
    [conv] = (await run.client.get("/api/v1/conversations", headers=auth(admin))).json()["items"]
    text = "Ответ оператора. " * 1000  # 17,000 characters
    r = await run.client.post(
        f"/api/v1/conversations/{conv['id']}/messages", json={"text": text}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    for _ in range(100):  # the visitor sees it once the dispatcher has delivered it
        r = await run.client.get(f"/widget/v1/{widget['public_key']}/messages", headers=visitor)
        if len(r.json()["items"]) == 2:
            break
        await asyncio.sleep(0.05)
    assert [m["text"] for m in r.json()["items"]] == ["hi", text]
    msgs = await run.client.get(f"/api/v1/conversations/{conv['id']}/messages", headers=auth(admin))
    assert len(msgs.json()["items"]) == 2
