"""Connecting a bot: getMe, then setWebhook (webhook mode) or deleteWebhook (polling)."""

import asyncio
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from tests.conftest import Running
from tests.helpers import auth
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.telegram.helpers import create_bot


async def test_webhook_mode_sets_a_secret_webhook(run: Running, fake_api: FakeBotApi) -> None:
    admin = await run.admin_token()
    channel = await create_bot(run.client, admin)
    assert channel["settings"]["mode"] == "webhook"
    assert channel["settings"]["bot_username"] == "shop_demo_bot"
    assert channel["settings"]["bot_id"] == 7012345678
    assert channel["credential_names"] == ["bot_token", "webhook_secret"]

    hook = fake_api.webhook[TOKEN]
    assert hook["url"] == f"https://chat.example.com/webhooks/telegram/{channel['id']}"
    assert len(hook["secret_token"]) >= 32
    assert hook["allowed_updates"] == ["message", "edited_message", "callback_query"]

    # The token and the secret never come back from the API.
    for r in (
        await run.client.get(f"/api/v1/channels/{channel['id']}", headers=auth(admin)),
        await run.client.get("/api/v1/channels", headers=auth(admin)),
    ):
        assert TOKEN not in r.text and hook["secret_token"] not in r.text


async def test_polling_mode_deletes_the_webhook(run: Running, fake_api: FakeBotApi) -> None:
    admin = await run.admin_token()
    fake_api.webhook[TOKEN] = {"url": "https://old.example.com"}
    channel = await create_bot(run.client, admin, mode="polling")
    assert channel["settings"]["mode"] == "polling"
    assert TOKEN not in fake_api.webhook
    assert channel["credential_names"] == ["bot_token"]


async def channel_count(run: Running, admin: str) -> int:
    r = await run.client.get("/api/v1/channels", headers=auth(admin))
    return len(r.json())


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"credentials": {"bot_token": "123:unknown"}}, 422, "invalid_bot_token"),
        ({"credentials": {"bot_token": "not a token"}}, 422, "invalid_bot_token"),
        ({"credentials": {}}, 422, "invalid_bot_token"),
        (
            {"credentials": {"bot_token": TOKEN}, "settings": {"mode": "carrier"}},
            422,
            "invalid_settings",
        ),
    ],
)
async def test_a_bad_bot_is_rejected_and_nothing_stored(
    run: Running, fake_api: FakeBotApi, body: dict[str, Any], status: int, code: str
) -> None:
    admin = await run.admin_token()
    r = await run.client.post(
        "/api/v1/channels",
        json={"type": "telegram", "name": "Bot", **body},
        headers=auth(admin),
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert "unknown" not in r.json()["error"]["message"]  # no token echoed back
    assert await channel_count(run, admin) == 0
    assert not fake_api.webhook


async def test_failed_set_webhook_stores_nothing(run: Running, fake_api: FakeBotApi) -> None:
    admin = await run.admin_token()
    fake_api.fail("setWebhook", 502)
    r = await run.client.post(
        "/api/v1/channels",
        json={"type": "telegram", "name": "Bot", "credentials": {"bot_token": TOKEN}},
        headers=auth(admin),
    )
    assert r.status_code == 503, r.text
    assert await channel_count(run, admin) == 0


async def test_the_same_bot_twice_is_a_conflict(run: Running, fake_api: FakeBotApi) -> None:
    admin = await run.admin_token()
    await create_bot(run.client, admin)
    r = await run.client.post(
        "/api/v1/channels",
        json={"type": "telegram", "name": "Again", "credentials": {"bot_token": TOKEN}},
        headers=auth(admin),
    )
    assert r.status_code == 409
    assert await channel_count(run, admin) == 1


async def test_webhook_mode_needs_a_public_url(
    run: Running, fake_api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await run.admin_token()
    monkeypatch.setattr(run.ctx.settings, "public_url", "")
    r = await run.client.post(
        "/api/v1/channels",
        json={
            "type": "telegram",
            "name": "Bot",
            "settings": {"mode": "webhook"},
            "credentials": {"bot_token": TOKEN},
        },
        headers=auth(admin),
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "public_url_missing"
    # Without a public URL the default is polling.
    channel = await create_bot(run.client, admin)
    assert channel["settings"]["mode"] == "polling"


async def test_cli_adds_a_bot(
    run: Running, fake_api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = run.ctx.settings
    monkeypatch.setenv("CHATCENTRE_DATABASE_URL", run.ctx.database_url)
    monkeypatch.setenv("CHATCENTRE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CHATCENTRE_TELEGRAM_API_SERVER", fake_api.url)
    monkeypatch.setenv("CHATCENTRE_PUBLIC_URL", "")
    get_settings.cache_clear()
    try:
        # The CLI runs its own event loop: give it a thread so the fake keeps serving.
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, ["channel", "add", "telegram", "--token", TOKEN]
        )
        bad = await asyncio.to_thread(
            CliRunner().invoke, cli, ["channel", "add", "telegram", "--token", "1:nope"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "bot @shop_demo_bot, polling mode" in result.output
    assert TOKEN not in result.output
    assert bad.exit_code == 1
    assert "rejected the bot token" in bad.output
