"""Files to upload and the calls that upload and send them, as a client would."""

import struct
import zlib
from typing import Any

import httpx


def _png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = _png()
# Every byte value, so a transfer that mangles binary (text decoding, newline rewriting)
# shows up in the comparison.
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 120  # a Windows executable's header


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    filename: str,
    content: bytes,
    content_type: str = "application/octet-stream",
    **fields: str,
) -> httpx.Response:
    return await client.post(
        "/api/v1/attachments",
        files={"file": (filename, content, content_type)},
        data=fields or None,
        headers=headers,
    )


async def uploaded(
    client: httpx.AsyncClient, headers: dict[str, str], filename: str, content: bytes
) -> dict[str, Any]:
    r = await upload(client, headers, filename, content)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data
