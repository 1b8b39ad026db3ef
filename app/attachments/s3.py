"""Files' bytes in an S3-compatible store (AWS S3, MinIO, Ceph, ...), for several nodes that
share no disk. aiobotocore: botocore's own request signing and retries, on asyncio."""

import asyncio
import contextlib
from typing import Any

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError

from app.attachments.storage import StoredFileMissing, check_key
from app.config import Settings

_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Storage:
    """Keys are <prefix><sha256>. One client per process, opened on first use and closed
    with the app context (its close())."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
        prefix: str = "",
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._options: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "config": Config(retries={"max_attempts": 3, "mode": "standard"}),
        }
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()

    @classmethod
    def of(cls, settings: Settings) -> "S3Storage":
        if not settings.s3_bucket:
            raise ValueError("CHATCENTRE_S3_BUCKET is required with attachments_store=s3")
        secret = settings.s3_secret_access_key
        return cls(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            prefix=settings.s3_prefix,
        )

    def __repr__(self) -> str:  # never the keys
        return f"S3Storage(bucket={self.bucket!r}, endpoint={self._options['endpoint_url']!r})"

    async def _s3(self) -> Any:
        async with self._lock:
            if self._client is None:
                self._client = await self._stack.enter_async_context(
                    get_session().create_client("s3", **self._options)
                )
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, content: bytes) -> None:
        # Content-addressed: writing the same key again writes the same bytes.
        s3 = await self._s3()
        await s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=content)

    async def get(self, key: str) -> bytes:
        s3 = await self._s3()
        try:
            answer = await s3.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise StoredFileMissing(key) from None
            raise
        async with answer["Body"] as body:
            data: bytes = await body.read()
        return data

    async def close(self) -> None:
        await self._stack.aclose()
        self._client = None
