"""Secrets never leak: every secret this test sets (operator password, access token, API
key, webchat identity secret, Telegram bot token, WhatsApp access token, app secret and
verify token) is searched for in every API response and in every log line captured at
DEBUG, through normal use and error paths. Provider credentials are encrypted at rest;
admin actions land in the audit log without their secrets; tokens are revocable."""

import logging
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import auth
from tests.telegram.conftest import telegram_settings
from tests.telegram.fake_bot_api import TOKEN as BOT_TOKEN
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.helpers import create_bot
from tests.whatsapp.fake_graph import APP_SECRET, TOKEN, VERIFY_TOKEN, FakeGraph, serve_fake_graph
from tests.whatsapp.support import create_whatsapp, envelope, post_webhook, text_message

PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
async def graph() -> Any:
    async with serve_fake_graph() as fake:
        yield fake


@pytest.fixture
async def fake_api() -> Any:
    fake = FakeBotApi()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def settings_overrides(fake_api: FakeBotApi) -> dict[str, Any]:
    return telegram_settings(fake_api, log_level="debug")


async def test_no_secret_in_logs_or_responses(
    run: Running, graph: FakeGraph, fake_api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    responses: list[httpx.Response] = []
    client = run.client

    async def call(method: str, url: str, **kw: Any) -> httpx.Response:
        r = await client.request(method, url, **kw)
        responses.append(r)
        return r

    admin = await run.admin_token()
    r = await call(
        "POST",
        "/api/v1/operators",
        json={"email": "ann@example.com", "name": "Ann", "password": PASSWORD},
        headers=auth(admin),
    )
    op_id = r.json()["id"]
    r = await call(
        "POST", "/api/v1/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
    )
    op_token = r.json()["access_token"]
    # Wrong passwords, with the real one as a prefix: an error must not echo what was sent.
    await call(
        "POST",
        "/api/v1/auth/login",
        json={"email": "ann@example.com", "password": PASSWORD + "x"},
    )
    r = await call(
        "POST",
        "/api/v1/api-keys",
        json={"name": "crm", "scopes": ["contacts:read"]},
        headers=auth(admin),
    )
    api_key = r.json()["key"]
    responses.pop()  # shown once, by design
    await call("GET", "/api/v1/contacts", headers={"X-Api-Key": api_key})
    await call("GET", "/api/v1/contacts", headers={"X-Api-Key": api_key + "x"})
    await call("GET", "/api/v1/operators/me", headers=auth(op_token))
    await call("GET", "/api/v1/operators/me", headers=auth(op_token + "x"))

    r = await call(
        "POST", "/api/v1/channels", json={"type": "webchat", "name": "Site"}, headers=auth(admin)
    )
    identity_secret = r.json()["generated_credentials"]["identity_secret"]
    responses.pop()  # the one response that shows it, once, by design

    wa = await create_whatsapp(client, admin, graph)
    bot = await create_bot(client, admin)
    await call(  # a token Telegram rejects (getMe): the error must not repeat it
        "POST",
        "/api/v1/channels",
        json={"type": "telegram", "name": "b", "credentials": {"bot_token": "123:" + PASSWORD}},
        headers=auth(admin),
    )
    r = await post_webhook(client, wa["id"], envelope(messages=[text_message("wamid.s1", "hi")]))
    responses.append(r)
    responses.append(
        await post_webhook(client, wa["id"], envelope(messages=[]), signature="sha256=00")
    )
    responses.append(
        await client.get(
            f"/webhooks/whatsapp/{wa['id']}",
            params={"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        )
    )
    # A reply that fails at the provider (token refused): its reason is shown to operators.
    graph.send_answers = [(401, {"error": {"message": "Invalid OAuth access token", "code": 190}})]
    conv = (await call("GET", "/api/v1/conversations", headers=auth(admin))).json()["items"][0]
    await call(
        "POST",
        f"/api/v1/conversations/{conv['id']}/messages",
        json={"text": "hello"},
        headers=auth(admin),
    )
    await graph.wait_for_sends(1)
    for path in (
        "/api/v1/channels",
        f"/api/v1/channels/{wa['id']}",
        f"/api/v1/channels/{bot['id']}",
    ):
        await call("GET", path, headers=auth(admin))
    await call(
        "PATCH",
        f"/api/v1/channels/{wa['id']}",
        json={"credentials": {"access_token": TOKEN}},
        headers=auth(admin),
    )
    await call(
        "PATCH",
        f"/api/v1/operators/{op_id}",
        json={"password": PASSWORD + "2"},
        headers=auth(admin),
    )
    await call("GET", "/api/v1/audit-log", headers=auth(admin))
    await call("GET", f"/api/v1/conversations/{conv['id']}/messages", headers=auth(admin))

    secrets = {
        "password": PASSWORD,
        "operator token": op_token,
        "admin token": admin,
        "api key": api_key,
        "api key secret": api_key.rsplit("_", 1)[1],
        "identity secret": identity_secret,
        "bot token": BOT_TOKEN,
        "bot token secret part": BOT_TOKEN.split(":", 1)[1],
        "whatsapp access token": TOKEN,
        "whatsapp app secret": APP_SECRET,
        "whatsapp verify token": VERIFY_TOKEN,
    }
    logs = "\n".join(f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)
    assert len(caplog.records) > 10
    bodies = [(r.request.url.path, r.text + str(dict(r.headers))) for r in responses]
    # The login responses carry the tokens they issue: those are the caller's, by design.
    bodies = [(p, b) for p, b in bodies if p != "/api/v1/auth/login" or "error" in b]
    for name, secret in secrets.items():
        assert secret not in logs, f"{name} appears in the logs"
        for path, body in bodies:
            if name in ("operator token", "admin token") and path == "/api/v1/auth/login":
                continue
            assert secret not in body, f"{name} appears in a response of {path}"

    # At rest: the credentials column holds ciphertext only.
    async with run.ctx.engine.connect() as conn:
        stored = [
            r[0] for r in await conn.execute(text("SELECT credentials::text FROM channel_accounts"))
        ]
    assert len(stored) == 3
    for value in stored:
        assert '"enc"' in value
        for secret in (TOKEN, APP_SECRET, VERIFY_TOKEN, BOT_TOKEN, identity_secret):
            assert secret not in value

    # The audit log recorded the admin actions, with no secret values.
    r = await client.get("/api/v1/audit-log", headers=auth(admin))
    actions = [e["action"] for e in r.json()["items"]]
    for action in (
        "operator.create",
        "operator.update",
        "api_key.create",
        "channel.create",
        "channel.update",
    ):
        assert action in actions, actions
    audit_text = r.text
    for secret in secrets.values():
        assert secret not in audit_text

    # The password change revoked Ann's old token.
    r = await client.get("/api/v1/operators/me", headers=auth(op_token))
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_revoked"


async def test_tokens_expire(run: Running) -> None:
    from app.operators import security
    from app.webchat.service import VISITOR_TOKEN

    admin = await run.admin_token()
    key = run.ctx.signing_key
    claims = security.read_token(key, admin, "operator")
    expired = security.issue_token(key, "operator", claims["sub"], -1, ver=claims.get("ver", 0))
    r = await run.client.get("/api/v1/operators/me", headers=auth(expired))
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
    r = await run.client.post(
        "/api/v1/channels", json={"type": "webchat", "name": "S"}, headers=auth(admin)
    )
    channel = r.json()
    visitor = security.issue_token(key, VISITOR_TOKEN, "1", -1, ch=channel["id"], ext="visitor:x")
    r = await run.client.post(
        f"/widget/v1/{channel['public_key']}/messages", json={"text": "hi"}, headers=auth(visitor)
    )
    assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
