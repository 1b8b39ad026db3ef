"""POST /api/v1/attachments: who may upload, the size limit, types judged from the bytes,
clear errors, and where the bytes end up (never at a path the file name chose)."""

import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.operators import scopes
from tests.attachments.support import EXE, PDF, PNG, upload, uploaded
from tests.conftest import Running
from tests.helpers import auth

LIMIT = 4096


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"attachment_max_bytes": LIMIT, "run_workers": False}


async def api_key(run: Running, admin: str, key_scopes: list[str]) -> dict[str, str]:
    r = await run.client.post(
        "/api/v1/api-keys", json={"name": "shop", "scopes": key_scopes}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    return {"X-Api-Key": r.json()["key"]}


def error(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    assert r.json()["error"]["message"]


async def count_attachments(run: Running) -> int:
    async with run.ctx.sessions() as s:
        return int(await s.scalar(text("SELECT count(*) FROM attachments")) or 0)


async def test_an_upload_answers_its_descriptor_and_keeps_the_bytes(
    run: Running, tmp_path: Path
) -> None:
    admin = await run.admin_token()
    body = await uploaded(run.client, auth(admin), "photo.png", PNG)
    assert set(body) == {"id", "type", "filename", "content_type", "size", "url"}
    assert (body["filename"], body["content_type"], body["type"], body["size"]) == (
        "photo.png",
        "image/png",
        "image",
        len(PNG),
    )
    assert len(body["id"]) >= 20  # random, not a counter
    assert body["url"] == f"/api/v1/attachments/{body['id']}"
    digest = hashlib.sha256(PNG).hexdigest()
    stored = tmp_path / "attachments" / digest[:2] / digest
    assert stored.read_bytes() == PNG  # in the data directory, under its content hash
    r = await run.client.get(body["url"], headers=auth(admin))
    assert r.status_code == 200 and r.content == PNG
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment;")


async def test_the_type_comes_from_the_bytes_not_the_client(run: Running) -> None:
    admin = await run.admin_token()
    # A PDF declared as a PNG is a PDF; a program declared as a PNG is refused.
    body = await uploaded(run.client, auth(admin), "scan.png", PDF)
    assert (body["content_type"], body["type"]) == ("application/pdf", "document")
    r = await upload(run.client, auth(admin), "cat.png", EXE, "image/png")
    error(r, 415, "unsupported_file_type")
    r = await upload(run.client, auth(admin), "a.bin", b"\x00\x01\x02binary\xff\xfe", "text/plain")
    error(r, 415, "unsupported_file_type")
    text_body = await uploaded(run.client, auth(admin), "notes.txt", "Привет\n".encode())
    assert text_body["content_type"] == "text/plain"
    assert await count_attachments(run) == 2


async def test_size_limit_and_bad_requests_are_clear_errors(run: Running) -> None:
    admin = await run.admin_token()
    headers = auth(admin)
    # Over the limit by a little (the file itself is checked) and by a lot (the body is
    # refused before it is read).
    error(await upload(run.client, headers, "big.pdf", PDF + b"x" * LIMIT), 413, "file_too_large")
    error(
        await upload(run.client, headers, "huge.pdf", PDF + b"x" * 200_000),
        413,
        "payload_too_large",
    )
    assert len(PDF) < LIMIT
    assert (await upload(run.client, headers, "ok.pdf", PDF)).status_code == 201
    error(await upload(run.client, headers, "empty.pdf", b""), 422, "empty_file")
    error(await upload(run.client, headers, "x.pdf", PDF, caption="hi"), 422, "unknown_field")
    r = await run.client.post("/api/v1/attachments", json={"file": "x"}, headers=headers)
    error(r, 422, "no_file")
    r = await run.client.post(
        "/api/v1/attachments",
        files=[("file", ("a.pdf", PDF, "application/pdf")), ("file", ("b.pdf", PDF, "x/y"))],
        headers=headers,
    )
    error(r, 422, "no_file")
    assert await count_attachments(run) == 1


async def test_who_may_upload(run: Running) -> None:
    admin = await run.admin_token()
    operator = await run.operator_token()
    error(await upload(run.client, {}, "a.png", PNG), 401, "unauthorized")
    assert (await upload(run.client, auth(operator), "a.png", PNG)).status_code == 201
    writer = await api_key(run, admin, [scopes.MESSAGES_WRITE])
    assert (await upload(run.client, writer, "a.png", PNG)).status_code == 201
    reader = await api_key(run, admin, [scopes.CONVERSATIONS_READ])
    error(await upload(run.client, reader, "a.png", PNG), 403, "missing_scope")
    assert await count_attachments(run) == 2


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.txt", "evil.txt"),
        ("/abs/path/.hidden.txt", "hidden.txt"),
        ("re\x1bport\x7f.txt", "report.txt"),
        ("..", "file"),
    ],
)
async def test_a_file_name_never_becomes_a_path(
    run: Running, tmp_path: Path, given: str, shown: str
) -> None:
    admin = await run.admin_token()
    content = f"contents of {given!r}".encode()
    body = await uploaded(run.client, auth(admin), given, content)
    assert body["filename"] == shown
    digest = hashlib.sha256(content).hexdigest()
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes() == content]
    assert files == [tmp_path / "attachments" / digest[:2] / digest]
