"""Rate limits and size limits: each answers a clear error (429 with Retry-After, 413, 422,
or a WebSocket close code with a reason)."""

from typing import Any

import pytest
import websockets

from tests.conftest import LiveServer, Running, create_operator
from tests.helpers import auth, create_webchat, visitor_session


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "login_lockout": "5/15minutes",
        "rate_limit_widget_sessions": "3/minute",
        "rate_limit_widget_messages_ip": "4/minute",
        "rate_limit_api": "5/minute",
        "ws_max_message_bytes": 64,
        "ws_rate_limit": "5/second",
        "max_message_chars": 50,
    }


def retry_after(r: Any, code: str) -> int:
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == code, r.text
    return int(r.headers["Retry-After"])


async def test_login_lockout_per_account(run: Running) -> None:
    from app.operators import service
    from app.operators.schemas import OperatorCreate

    async with run.ctx.sessions() as session:
        await service.create_operator(
            session, OperatorCreate(email="a@example.com", name="a", password="ochre-82-jy")
        )
        await session.commit()
    bad = {"email": "a@example.com", "password": "wrong-password"}
    for _ in range(5):
        r = await run.client.post("/api/v1/auth/login", json=bad)
        assert r.status_code == 401
    # Locked: even the right password is refused until the window passes.
    good = {"email": "A@example.com", "password": "ochre-82-jy"}
    wait = retry_after(await run.client.post("/api/v1/auth/login", json=good), "account_locked")
    assert 60 < wait <= 15 * 60 + 1
    # Another account is not affected.
    await create_operator(run, "b@example.com", "operator")


async def test_widget_and_api_key_limits(run: Running) -> None:
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    tokens = [(await visitor_session(run.client, key))["visitor_token"] for _ in range(3)]
    retry_after(await run.client.post(f"/widget/v1/{key}/sessions", json={}), "rate_limited")
    # Per IP over all visitors: 4 a minute here.
    for i in range(4):
        r = await run.client.post(
            f"/widget/v1/{key}/messages", json={"text": f"m{i}"}, headers=auth(tokens[i % 3])
        )
        assert r.status_code == 201, r.text
    r = await run.client.post(
        f"/widget/v1/{key}/messages", json={"text": "x"}, headers=auth(tokens[0])
    )
    retry_after(r, "rate_limited")

    r = await run.client.post(
        "/api/v1/api-keys", json={"name": "k", "scopes": ["contacts:read"]}, headers=auth(admin)
    )
    api_key = r.json()["key"]
    statuses = [
        (await run.client.get("/api/v1/contacts", headers={"X-Api-Key": api_key})).status_code
        for _ in range(6)
    ]
    assert statuses[:5] == [200] * 5, statuses
    r = await run.client.get("/api/v1/contacts", headers={"X-Api-Key": api_key})
    retry_after(r, "rate_limited")


async def test_message_length_and_body_size(run: Running) -> None:
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    token = (await visitor_session(run.client, key))["visitor_token"]
    r = await run.client.post(
        f"/widget/v1/{key}/messages", json={"text": "x" * 51}, headers=auth(token)
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "text_too_long", r.text
    r = await run.client.post(
        f"/widget/v1/{key}/messages",
        content=b'{"text": "' + b"x" * 300_000 + b'"}',
        headers={**auth(token), "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


async def test_websocket_frame_size_and_rate(live: LiveServer) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await create_operator(run, "admin@example.com", "admin")
    url = f"{live.ws_url}/api/v1/ws?token={admin}"
    async with websockets.connect(url) as ws:
        await ws.send("x" * 65)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009 and "message_too_big" in closed.value.rcvd.reason
    async with websockets.connect(url) as ws:
        for _ in range(10):
            await ws.send("ping")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008 and "rate_limited" in closed.value.rcvd.reason
