"""Where uploaded files' bytes live, behind a small interface so another store (the
S3-compatible one, app/attachments/s3.py) can take the local directory's place. Keys are
SHA-256 hex digests of the content: the same file uploaded twice is kept once, and no key
comes from a client."""

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

_KEY = re.compile(r"^[0-9a-f]{64}$")


class StoredFileMissing(Exception):
    """The store has no bytes under this key (deleted by hand, another node's disk)."""


def check_key(key: str) -> str:
    if not _KEY.match(key):  # never a path from outside: only our own digests
        raise ValueError("a storage key is a SHA-256 hex digest")
    return key


class AttachmentStorage(Protocol):
    async def put(self, key: str, content: bytes) -> None: ...

    async def get(self, key: str) -> bytes: ...


class LocalStorage:
    """Files in a directory: <root>/<first two hex digits>/<sha256>. Written to a temporary
    file and renamed, so a reader never sees half a file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / check_key(key)

    async def put(self, key: str, content: bytes) -> None:
        await asyncio.to_thread(self._write, self._path(key), content)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError:
            raise StoredFileMissing(key) from None

    @staticmethod
    def _write(path: Path, content: bytes) -> None:
        if path.exists():
            return  # content-addressed: the same bytes are there already
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
