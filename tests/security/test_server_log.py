"""No credential reaches the server's log: a real `chatcentre serve` process (access log on,
everything at DEBUG) is driven through logins, a password change, logout, WebSockets with
tickets and with the deprecated ?token=, a WhatsApp verify handshake, signed WhatsApp and
secret-checked Telegram webhooks, an API key, the tracking page and the metrics token;
then its whole output (stdout and stderr) is searched for every secret and token used."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import urllib.parse
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import ROOT, free_port, truncate_all
from tests.helpers import auth, recv_event, visitor_post, visitor_session
from tests.multinode.test_nodes import SECRET, seed_admin
from tests.telegram.fake_bot_api import TOKEN as BOT_TOKEN
from tests.telegram.fake_bot_api import FakeBotApi, load_update
from tests.telegram.helpers import create_bot, deliver, secret_of
from tests.whatsapp.fake_graph import APP_SECRET, TOKEN, VERIFY_TOKEN, serve_fake_graph
from tests.whatsapp.support import create_whatsapp, envelope, post_webhook, text_message

ADMIN_PASSWORD = "ochre-82-jy"  # seed_admin's
OPERATOR_PASSWORD = "quiet-harbour-lamp-5521"
NEW_PASSWORD = "amber-falcon-river-7730"
METRICS_TOKEN = "metrics-scraper-token-5f2a9c"


@contextlib.asynccontextmanager
async def serve_process(url: str, tmp: Path, **env: str) -> AsyncIterator[tuple[str, Path]]:
    """`chatcentre serve` on a free port, its stdout and stderr in one file."""
    port = free_port()
    log = tmp / "serve.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CHATCENTRE_")}
    environ |= {
        "CHATCENTRE_DATABASE_URL": url,
        "CHATCENTRE_SECRET_KEY": SECRET,
        "CHATCENTRE_DATA_DIR": str(tmp / "data"),
        "CHATCENTRE_LOG_LEVEL": "debug",
        "CHATCENTRE_METRICS_TOKEN": METRICS_TOKEN,
        "PYTHONPATH": str(ROOT),
        **env,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            cwd=ROOT,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                for _ in range(300):
                    assert proc.poll() is None, log.read_text()
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
            yield base, log
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.wait, 20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def ws_ready(url: str) -> str:
    """'ready', or the close code and reason of a refused socket."""
    async with websockets.connect(url, open_timeout=5) as ws:
        try:
            while (await recv_event(ws, 10))["type"] != "ready":
                pass
            return "ready"
        except websockets.ConnectionClosed as exc:
            return f"closed {exc.rcvd.code if exc.rcvd else None}"


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    await fake.start()
    yield fake
    await fake.stop()


async def test_the_server_log_holds_no_secret(
    migrated: str, tmp_path: Path, fake_api: FakeBotApi
) -> None:
    secrets: dict[str, str] = {
        "admin password": ADMIN_PASSWORD,
        "operator password": OPERATOR_PASSWORD,
        "new password": NEW_PASSWORD,
        "metrics token": METRICS_TOKEN,
        "signing key": SECRET,
        "WhatsApp access token": TOKEN,
        "WhatsApp app secret": APP_SECRET,
        "WhatsApp verify token": VERIFY_TOKEN,
        "Telegram bot token": BOT_TOKEN,
    }
    env = {
        "CHATCENTRE_TELEGRAM_API_SERVER": fake_api.url,
        "CHATCENTRE_PUBLIC_URL": "https://chat.example.com",
    }
    await seed_admin(migrated)
    try:
        async with (
            serve_fake_graph() as graph,
            serve_process(migrated, tmp_path, **env) as (base, log),
            httpx.AsyncClient(base_url=base, timeout=30) as client,
        ):
            ws_base = base.replace("http://", "ws://")
            r = await client.post(
                "/api/v1/auth/login",
                json={"email": "admin@example.com", "password": ADMIN_PASSWORD},
            )
            admin = secrets["admin token"] = r.json()["access_token"]
            r = await client.post(
                "/api/v1/operators",
                json={"email": "ola@example.com", "name": "Ola", "password": OPERATOR_PASSWORD},
                headers=auth(admin),
            )
            assert r.status_code == 201, r.text
            operator_id = r.json()["id"]
            r = await client.post(
                "/api/v1/auth/login",
                json={"email": "ola@example.com", "password": OPERATOR_PASSWORD},
            )
            operator = secrets["operator token"] = r.json()["access_token"]

            # Web chat: a visitor, and both kinds of socket, by ticket and by old token.
            r = await client.post(
                "/api/v1/channels",
                json={"type": "webchat", "name": "Site"},
                headers=auth(admin),
            )
            key = r.json()["public_key"]
            secrets["identity secret"] = r.json()["generated_credentials"]["identity_secret"]
            session = await visitor_session(client, key, name="Vic")
            visitor = secrets["visitor token"] = session["visitor_token"]
            assert (await visitor_post(client, key, visitor, "hello")).status_code == 201
            for n in range(2):
                r = await client.post("/api/v1/ws-ticket", headers=auth(operator))
                ticket = secrets[f"operator ticket {n}"] = r.json()["ticket"]
                assert await ws_ready(f"{ws_base}/api/v1/ws?ticket={ticket}&after=0") == "ready"
                r = await client.post(f"/widget/v1/{key}/ws-ticket", headers=auth(visitor))
                vticket = secrets[f"visitor ticket {n}"] = r.json()["ticket"]
                widget_ws = f"{ws_base}/widget/v1/{key}/ws"
                assert await ws_ready(f"{widget_ws}?ticket={vticket}&after=0") == "ready"
            # A used ticket is refused (and logged, redacted, all the same).
            assert await ws_ready(f"{ws_base}/api/v1/ws?ticket={ticket}") == "closed 4401"
            assert await ws_ready(f"{ws_base}/api/v1/ws?token={operator}") == "ready"
            assert await ws_ready(f"{widget_ws}?token={visitor}") == "ready"

            # WhatsApp: the verify handshake (right and wrong token) and a signed post.
            wa = await create_whatsapp(client, admin, graph)
            hook = f"/webhooks/whatsapp/{wa['id']}"
            params = {"hub.mode": "subscribe", "hub.challenge": "1158"}
            r = await client.get(hook, params={**params, "hub.verify_token": VERIFY_TOKEN})
            assert r.status_code == 200 and r.text == "1158", r.text
            r = await client.get(hook, params={**params, "hub.verify_token": "wrong-guess"})
            assert r.status_code == 403
            r = await post_webhook(client, wa["id"], envelope([text_message("wamid.1", "hi")]))
            assert r.status_code == 200, r.text

            # Telegram: a webhook bot; Telegram calls back with the secret header.
            bot = await create_bot(client, admin, mode="webhook")
            secrets["Telegram webhook secret"] = secret_of(fake_api)
            update = load_update("update_text")
            r = await deliver(client, bot["id"], update, secret_of(fake_api))
            assert r.status_code == 200, r.text
            r = await deliver(client, bot["id"], update, "wrong-secret")
            assert r.status_code == 401

            # An API key, the tracking page, the metrics.
            r = await client.post(
                "/api/v1/api-keys",
                json={"name": "shop", "scopes": ["orders:write", "orders:read"]},
                headers=auth(admin),
            )
            api_key = secrets["API key"] = r.json()["key"]
            r = await client.put(
                "/api/v1/orders/o-1",
                json={"client": {"contact_id": session["contact_id"]}},
                headers={"X-Api-Key": api_key},
            )
            assert r.status_code == 201, r.text
            tracking = r.json()["tracking_url"].rsplit("/", 1)[1]
            secrets["tracking token"] = tracking
            assert (await client.get(f"/track/{tracking}")).status_code == 200
            assert (await client.get("/metrics", headers=auth(METRICS_TOKEN))).status_code == 200

            # A password change and a logout (the old token is then refused).
            r = await client.patch(
                f"/api/v1/operators/{operator_id}",
                json={"password": NEW_PASSWORD},
                headers=auth(admin),
            )
            assert r.status_code == 200, r.text
            r = await client.post(
                "/api/v1/auth/login", json={"email": "ola@example.com", "password": NEW_PASSWORD}
            )
            fresh = secrets["operator token after the change"] = r.json()["access_token"]
            assert await ws_ready(f"{ws_base}/api/v1/ws?token={operator}") == "closed 4401"
            assert (
                await client.post("/api/v1/auth/logout", headers=auth(fresh))
            ).status_code == 204
        output = log.read_text()
    finally:
        await truncate_all(migrated)

    leaked = {
        name: value
        for name, value in secrets.items()
        if value in output or urllib.parse.quote(value, safe="") in output
    }
    assert not leaked, f"found in the server log: {sorted(leaked)}"
    # The access log was on, and shows the requests with their credentials masked.
    assert '"POST /api/v1/auth/login HTTP/1.1" 200' in output, output[-3000:]
    assert '"WebSocket /api/v1/ws?ticket=***&after=0" [accepted]' in output
    assert f'"WebSocket /widget/v1/{key}/ws?token=***" [accepted]' in output
    assert "hub.verify_token=***" in output
    assert '"GET /track/*** HTTP/1.1" 200' in output


def test_the_redaction_itself() -> None:
    from app.observability.redact import redact

    assert redact("/api/v1/ws?after=3&token=a.b.c") == "/api/v1/ws?after=3&token=***"
    assert redact("/x?hub.verify_token=s3&hub.challenge=1") == (
        "/x?hub.verify_token=***&hub.challenge=1"
    )
    assert redact("/widget/v1/k/ws?ticket=T&after=0") == "/widget/v1/k/ws?ticket=***&after=0"
    assert redact("GET https://api.telegram.org/bot1:AA-b_c/getMe") == (
        "GET https://api.telegram.org/bot***/getMe"
    )
    assert redact("/widget/demo?key=public") == "/widget/demo?key=public"
