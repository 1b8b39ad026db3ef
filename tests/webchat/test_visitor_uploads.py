"""A web-chat visitor's files (POST /widget/v1/{key}/attachments): the public endpoint's
limits (size, type judged from the bytes, rate), files bound to the visitor who uploaded
them, and the message that carries them reaching the operator."""

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.attachments.support import EXE, PDF, PNG
from tests.conftest import Running
from tests.helpers import auth, create_webchat, visitor_session

LIMIT = 4096


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {
        "widget_attachment_max_bytes": LIMIT,
        "rate_limit_widget_uploads": "5/minute",
        "run_workers": False,
    }


def error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text


async def visitor_upload(
    client: httpx.AsyncClient, key: str, token: str, name: str, content: bytes, declared: str
) -> httpx.Response:
    return await client.post(
        f"/widget/v1/{key}/attachments",
        files={"file": (name, content, declared)},
        headers=auth(token),
    )


async def widget(run: Running) -> tuple[str, str, str]:
    """A widget key, an admin token, a visitor token."""
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    visitor = (await visitor_session(run.client, key, name="Vera"))["visitor_token"]
    return key, admin, visitor


async def count_attachments(run: Running) -> int:
    async with run.ctx.sessions() as s:
        return int(await s.scalar(text("SELECT count(*) FROM attachments")) or 0)


async def test_a_visitor_sends_a_photo_and_the_operator_gets_it(run: Running) -> None:
    key, admin, visitor = await widget(run)
    r = await visitor_upload(run.client, key, visitor, "box.png", PNG, "text/plain")
    assert r.status_code == 201, r.text
    up = r.json()
    # The declared type is ignored: the bytes say PNG.
    assert (up["type"], up["content_type"], up["size"]) == ("image", "image/png", len(PNG))
    assert up["url"].startswith("/files/")
    assert (await run.client.get(up["url"])).content == PNG
    r = await run.client.post(
        f"/widget/v1/{key}/messages", json={"attachment_ids": [up["id"]]}, headers=auth(visitor)
    )
    assert r.status_code == 201, r.text
    posted = r.json()["message"]
    assert posted["attachments"][0]["url"].startswith("/files/")
    conv_id = posted["conversation_id"]
    # The operator's view: the message lists the file, downloadable with their token.
    r = await run.client.get(f"/api/v1/conversations/{conv_id}/messages", headers=auth(admin))
    assert r.status_code == 200, r.text
    (message,) = [m for m in r.json()["items"] if m["id"] == posted["id"]]
    (item,) = message["attachments"]
    assert (item["filename"], item["content_type"]) == ("box.png", "image/png")
    r = await run.client.get(item["url"], headers=auth(admin))
    assert r.status_code == 200 and r.content == PNG
    # The visitor's history shows it too, as a link.
    r = await run.client.get(f"/widget/v1/{key}/messages", headers=auth(visitor))
    assert r.json()["items"][-1]["attachments"][0]["filename"] == "box.png"


async def test_limits_are_clear_errors_and_nothing_is_kept(run: Running) -> None:
    key, _, visitor = await widget(run)
    # The widget learns the limit from its config, to refuse a big file before sending it.
    assert (await run.client.get(f"/widget/v1/{key}/config")).json()["max_upload_bytes"] == LIMIT
    error(
        await visitor_upload(run.client, key, visitor, "big.pdf", PDF + b"x" * LIMIT, "x/y"),
        413,
        "file_too_large",
    )
    # Far over: refused before the body is read.
    error(
        await visitor_upload(run.client, key, visitor, "huge.pdf", PDF * 100, "x/y"),
        413,
        "payload_too_large",
    )
    # An executable named and declared as a picture is still an executable.
    error(
        await visitor_upload(run.client, key, visitor, "cat.png", EXE, "image/png"),
        415,
        "unsupported_file_type",
    )
    error(await visitor_upload(run.client, key, visitor, "e.pdf", b"", "x/y"), 422, "empty_file")
    assert await count_attachments(run) == 0
    r = await run.client.post(f"/widget/v1/{key}/messages", json={}, headers=auth(visitor))
    assert r.status_code == 422, r.text


async def test_uploads_are_rate_limited_per_visitor(run: Running) -> None:
    key, _, visitor = await widget(run)
    other = (await visitor_session(run.client, key))["visitor_token"]
    statuses = [
        (await visitor_upload(run.client, key, visitor, "p.png", PNG, "image/png")).status_code
        for _ in range(7)
    ]
    assert statuses == [201] * 5 + [429] * 2
    # Another visitor is not held up by the first one's limit.
    assert (await visitor_upload(run.client, key, other, "p.png", PNG, "x")).status_code == 201


async def test_a_file_is_usable_only_by_the_visitor_who_uploaded_it(run: Running) -> None:
    key, admin, vera = await widget(run)
    yuri = (await visitor_session(run.client, key, name="Yuri"))["visitor_token"]
    up = (await visitor_upload(run.client, key, vera, "p.pdf", PDF, "x")).json()
    r = await run.client.post(
        f"/widget/v1/{key}/messages", json={"attachment_ids": [up["id"]]}, headers=auth(yuri)
    )
    error(r, 422, "unknown_attachment")
    # An operator's upload is not the visitor's to send either.
    r = await run.client.post(
        "/api/v1/attachments", files={"file": ("o.pdf", PDF, "x")}, headers=auth(admin)
    )
    op_file = r.json()["id"]
    r = await run.client.post(
        f"/widget/v1/{key}/messages", json={"attachment_ids": [op_file]}, headers=auth(vera)
    )
    error(r, 422, "unknown_attachment")
    async with run.ctx.sessions() as s:
        assert await s.scalar(text("SELECT count(*) FROM messages")) == 0
    # An operator cannot fetch a visitor's file until a message in a conversation they see
    # carries it (then they can).
    operator = await run.operator_token()
    mine = (await visitor_upload(run.client, key, yuri, "y.png", PNG, "x")).json()
    r = await run.client.get(f"/api/v1/attachments/{mine['id']}", headers=auth(operator))
    error(r, 404, "unknown_attachment")
    r = await run.client.post(
        f"/widget/v1/{key}/messages",
        json={"text": "see", "attachment_ids": [mine["id"]]},
        headers=auth(yuri),
    )
    assert r.status_code == 201, r.text
    r = await run.client.get(f"/api/v1/attachments/{mine['id']}", headers=auth(operator))
    assert r.status_code == 200 and r.content == PNG
