"""The S3-compatible store, against moto's S3 server (a real local HTTP server speaking the
S3 wire protocol, in its own process): bytes round-trip, a missing key is StoredFileMissing,
and with attachments_store=s3 an upload lands in the bucket (not the data directory) where
another node reads it."""

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiobotocore.session import get_session

from app.attachments.s3 import S3Storage
from app.attachments.storage import StoredFileMissing
from app.config import Settings
from tests.attachments.support import PDF, PNG, uploaded
from tests.conftest import Running, free_port
from tests.helpers import auth

BUCKET = "chatcentre-files"
SECRET = "not-a-real-secret-0123456789"


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(10)


async def make_bucket(url: str, name: str) -> None:
    async with get_session().create_client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key=SECRET,
    ) as s3:
        await s3.create_bucket(Bucket=name)


def store(url: str, bucket: str = BUCKET) -> S3Storage:
    return S3Storage(
        bucket=bucket,
        endpoint_url=url,
        region="us-east-1",
        access_key_id="test",
        secret_access_key=SECRET,
        prefix="attachments/",
    )


async def test_bytes_round_trip_and_a_missing_key_is_missing(s3_url: str) -> None:
    await make_bucket(s3_url, "roundtrip")
    s = store(s3_url, "roundtrip")
    try:
        key = hashlib.sha256(PDF).hexdigest()
        await s.put(key, PDF)
        await s.put(key, PDF)  # the same file again: harmless
        assert await s.get(key) == PDF
        with pytest.raises(StoredFileMissing):
            await s.get(hashlib.sha256(b"never stored").hexdigest())
        with pytest.raises(ValueError):
            await s.put("../../etc/passwd", b"x")  # only our own digests are keys
        assert SECRET not in repr(s)
    finally:
        await s.close()


@pytest.fixture
def settings_overrides(s3_url: str) -> dict[str, Any]:
    return {
        "attachments_store": "s3",
        "s3_endpoint_url": s3_url,
        "s3_bucket": BUCKET,
        "s3_access_key_id": "test",
        "s3_secret_access_key": SECRET,
        "run_workers": False,
    }


async def test_uploads_go_to_the_bucket_and_another_node_reads_them(
    run: Running, s3_url: str, settings: Settings
) -> None:
    await make_bucket(s3_url, BUCKET)
    admin = await run.admin_token()
    up = await uploaded(run.client, auth(admin), "box.png", PNG)
    r = await run.client.get(up["url"], headers=auth(admin))
    assert r.status_code == 200 and r.content == PNG
    # Nothing in this node's data directory; another node (its own client) finds the bytes.
    assert not (Path(settings.data_dir) / "attachments").exists()
    other = store(s3_url)
    try:
        assert await other.get(hashlib.sha256(PNG).hexdigest()) == PNG
    finally:
        await other.close()
    assert SECRET not in repr(settings)
