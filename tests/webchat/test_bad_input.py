"""Bad input on the public widget API: each case is a clear 4xx JSON error with a code, and
nothing is stored (no message, contact, identity or conversation row appears)."""

import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text

from app.operators import security
from tests.conftest import Running
from tests.helpers import auth, create_webchat, visitor_post, visitor_session

MESSAGES_PER_MINUTE = 3
TABLES = ("messages", "contacts", "contact_identities", "conversations", "touchpoints")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limit_widget_messages": f"{MESSAGES_PER_MINUTE}/minute"}


async def counts(run: Running) -> dict[str, int]:
    async with run.ctx.sessions() as session:
        return {
            t: int(await session.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in TABLES
        }


def error_of(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, f"{r.status_code} {r.text}"
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert set(body) == {"error"}, body
    err: dict[str, Any] = body["error"]
    assert isinstance(err.get("code"), str) and err["code"], body
    assert isinstance(err.get("message"), str) and err["message"], body
    assert "Traceback" not in r.text
    if code is not None:
        assert err["code"] == code, body
    return err


def reissue(token: str, key: str, ttl: int) -> str:
    claims = jwt.decode(token, options={"verify_signature": False})
    kind, subject = claims.pop("typ"), claims.pop("sub")
    claims.pop("iat")
    claims.pop("exp")
    return security.issue_token(key, kind, subject, ttl, **claims)


class Widget:
    def __init__(self, run: Running, channel: dict[str, Any]):
        self.run = run
        self.key: str = channel["public_key"]
        self.secret: str | None = channel["generated_credentials"].get("identity_secret")

    @property
    def messages(self) -> str:
        return f"/widget/v1/{self.key}/messages"

    @property
    def sessions(self) -> str:
        return f"/widget/v1/{self.key}/sessions"

    async def visitor(self) -> str:
        """A fresh visitor token (its contact exists; no conversation yet)."""
        token: str = (await visitor_session(self.run.client, self.key))["visitor_token"]
        return token


@pytest.fixture
async def widget(run: Running) -> AsyncIterator[Widget]:
    admin = await run.admin_token()
    yield Widget(run, await create_webchat(run.client, admin))


async def test_text_over_max_message_chars(run: Running, widget: Widget) -> None:
    token = await widget.visitor()
    limit = run.ctx.settings.max_message_chars
    before = await counts(run)
    r = await visitor_post(run.client, widget.key, token, "x" * (limit + 1), "long-1")
    error_of(r, 422, "text_too_long")
    # Far over the schema's own ceiling too: still a 422, not a 500.
    r = await visitor_post(run.client, widget.key, token, "x" * 70_000, "long-2")
    error_of(r, 422)
    assert await counts(run) == before
    # Exactly at the limit is fine.
    r = await visitor_post(run.client, widget.key, token, "x" * limit, "long-3")
    assert r.status_code == 201, r.text


async def test_body_over_max_body_bytes(run: Running, widget: Widget) -> None:
    token = await widget.visitor()
    limit = run.ctx.settings.max_body_bytes
    big = b'{"text": "' + b"x" * limit + b'"}'
    headers = auth(token) | {"Content-Type": "application/json"}
    before = await counts(run)
    r = await run.client.post(widget.messages, content=big, headers=headers)
    error_of(r, 413, "payload_too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for i in range(0, len(big), 16_384):
            yield big[i : i + 16_384]

    r = await run.client.post(widget.messages, content=chunks(), headers=headers)
    assert "content-length" not in r.request.headers
    error_of(r, 413, "payload_too_large")
    # A lying Content-Length is refused too, not trusted.
    r = await run.client.post(
        widget.messages, content=b'{"text": "hi"}', headers=headers | {"Content-Length": "-5"}
    )
    assert r.status_code in (400, 413), r.text
    assert await counts(run) == before


async def test_malformed_json(run: Running, widget: Widget) -> None:
    token = await widget.visitor()
    before = await counts(run)
    headers = {"Content-Type": "application/json"}
    for raw in (b'{"text": "hi"', b"{text: hi}", b'{"text": "hi"}}', b"\xff\xfe"):
        r = await run.client.post(widget.messages, content=raw, headers=headers | auth(token))
        error_of(r, 400, "malformed_json")
        r = await run.client.post(widget.sessions, content=raw, headers=headers)
        error_of(r, 400, "malformed_json")
    # Valid JSON of the wrong shape is a 422, not a 400 and not a 500.
    for body in ([], "hi", {"text": 5}, {"text": None}, {}):
        r = await run.client.post(widget.messages, json=body, headers=auth(token))
        error_of(r, 422, "invalid")
    assert await counts(run) == before


async def test_unknown_widget_key(run: Running, widget: Widget) -> None:
    token = await widget.visitor()
    before = await counts(run)
    for key in ("no-such-widget", "x" * 65, "x" * 500):
        r = await run.client.post(f"/widget/v1/{key}/sessions", json={})
        error_of(r, 404, "unknown_widget")
        r = await visitor_post(run.client, key, token, "hi")
        error_of(r, 404, "unknown_widget")
        r = await run.client.get(f"/widget/v1/{key}/messages", headers=auth(token))
        error_of(r, 404, "unknown_widget")
    assert await counts(run) == before


async def test_expired_and_forged_visitor_tokens(run: Running, widget: Widget) -> None:
    token = await widget.visitor()
    expired = reissue(token, run.ctx.signing_key, ttl=-60)
    forged = reissue(token, "a-key-that-is-not-the-servers-signing-key-0123456789", ttl=3600)
    before = await counts(run)
    for bad, code in ((expired, "token_expired"), (forged, "invalid_token")):
        r = await visitor_post(run.client, widget.key, bad, "hi", "t-1")
        error_of(r, 401, code)
        r = await run.client.get(widget.messages, headers=auth(bad))
        error_of(r, 401, code)
    r = await run.client.post(widget.messages, json={"text": "hi"})
    error_of(r, 401, "unauthorized")
    assert await counts(run) == before
    # The genuine token still works.
    r = await visitor_post(run.client, widget.key, token, "hi", "t-1")
    assert r.status_code == 201, r.text


async def test_identity_hash(run: Running, widget: Widget) -> None:
    assert widget.secret, "a web chat channel hands out its identity_secret once"
    user = "customer-42"
    right = hmac.new(widget.secret.encode(), user.encode(), hashlib.sha256).hexdigest()
    before = await counts(run)
    wrong_hashes = [
        hmac.new(b"another secret", user.encode(), hashlib.sha256).hexdigest(),
        hmac.new(widget.secret.encode(), b"customer-43", hashlib.sha256).hexdigest(),
        right[:-1] + ("0" if right[-1] != "0" else "1"),
        "",
        "not hex at all",
    ]
    for wrong in wrong_hashes:
        r = await run.client.post(
            widget.sessions, json={"identifier": user, "identifier_hash": wrong}
        )
        error_of(r, 401, "identity_mismatch")
    r = await run.client.post(widget.sessions, json={"identifier": user})
    error_of(r, 401, "identity_mismatch")
    r = await run.client.post(widget.sessions, json={"identifier_hash": right})
    error_of(r, 422, "identity_mismatch")
    assert await counts(run) == before

    # The right hash from two devices: one contact, one conversation, one history.
    first = await visitor_session(run.client, widget.key, identifier=user, identifier_hash=right)
    r = await visitor_post(run.client, widget.key, first["visitor_token"], "from my phone")
    assert r.status_code == 201, r.text
    conversation_id = r.json()["message"]["conversation_id"]
    second = await visitor_session(
        run.client, widget.key, identifier=user, identifier_hash=right.upper()
    )
    assert second["contact_id"] == first["contact_id"]
    assert second["conversation_id"] == conversation_id
    r = await run.client.get(widget.messages, headers=auth(second["visitor_token"]))
    assert [m["text"] for m in r.json()["items"]] == ["from my phone"]
    after = await counts(run)
    assert after["contacts"] == before["contacts"] + 1
    assert after["contact_identities"] == before["contact_identities"] + 1


async def test_empty_text(run: Running, widget: Widget) -> None:
    token = await widget.visitor()
    before = await counts(run)
    r = await visitor_post(run.client, widget.key, token, "")
    error_of(r, 422, "invalid")
    for blank in (" ", "\n\t  \n"):
        r = await visitor_post(run.client, widget.key, token, blank)
        error_of(r, 422, "empty_text")
    assert await counts(run) == before


async def test_invalid_client_message_id(run: Running, widget: Widget) -> None:
    before = await counts(run)
    for bad in ("has space", "slash/inside", "ünïcode", "semi;colon", "", "x" * 101):
        token = await widget.visitor()  # a fresh visitor each: the rate limit is per visitor
        r = await visitor_post(run.client, widget.key, token, "hi", bad)
        error_of(r, 422)
        if bad and len(bad) <= 100:
            assert r.json()["error"]["code"] == "invalid_client_message_id", r.text
    after = await counts(run)
    assert after["messages"] == before["messages"]
    assert after["conversations"] == before["conversations"]
    token = await widget.visitor()
    r = await visitor_post(run.client, widget.key, token, "hi", "Ok.id_1:2-3")
    assert r.status_code == 201, r.text


async def test_origin_not_allowed(run: Running) -> None:
    admin = await run.admin_token()
    channel = await create_webchat(run.client, admin, allowed_origins=["https://shop.example"])
    widget = Widget(run, channel)
    good = {"Origin": "https://shop.example"}
    token = (await visitor_session(run.client, widget.key))["visitor_token"]
    r = await run.client.post(widget.sessions, json={}, headers=good)
    assert r.status_code == 201, r.text
    assert r.headers["access-control-allow-origin"] == "https://shop.example"

    before = await counts(run)
    for origin in ("https://evil.example", "https://shop.example.evil.example", "null"):
        bad = {"Origin": origin}
        r = await run.client.post(widget.sessions, json={}, headers=bad)
        error_of(r, 403, "origin_not_allowed")
        assert "access-control-allow-origin" not in r.headers
        r = await run.client.post(widget.messages, json={"text": "hi"}, headers=bad | auth(token))
        error_of(r, 403, "origin_not_allowed")
        r = await run.client.get(widget.messages, headers=bad | auth(token))
        error_of(r, 403, "origin_not_allowed")
        r = await run.client.options(
            widget.messages, headers=bad | {"Access-Control-Request-Method": "POST"}
        )
        assert r.status_code == 403
        assert "access-control-allow-origin" not in r.headers
    assert await counts(run) == before
    r = await run.client.post(widget.messages, json={"text": "hi"}, headers=good | auth(token))
    assert r.status_code == 201, r.text


async def test_rate_limit(run: Running, widget: Widget) -> None:
    token = await widget.visitor()
    for i in range(MESSAGES_PER_MINUTE):
        r = await visitor_post(run.client, widget.key, token, f"message {i}", f"m{i}")
        assert r.status_code == 201, r.text
    before = await counts(run)
    r = await visitor_post(run.client, widget.key, token, "one too many", "m-extra")
    error_of(r, 429, "rate_limited")
    retry_after = int(r.headers["Retry-After"])
    assert 1 <= retry_after <= 61
    assert await counts(run) == before
    # The limit is per visitor: another visitor of the same widget is not affected.
    other = await widget.visitor()
    r = await visitor_post(run.client, widget.key, other, "hello", "o1")
    assert r.status_code == 201, r.text
