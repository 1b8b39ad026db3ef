"""Cursors for paged lists: a (timestamp, id) keyset cursor, opaque to clients, and a plain
id cursor. A cursor a client altered is refused as invalid_cursor."""

import base64
from datetime import datetime

from app.core.errors import Invalid


def encode_cursor(ts: datetime, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{ts.isoformat()}|{row_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        ts, _, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(ts), int(row_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("The cursor is not valid", "invalid_cursor") from exc


def parse_id_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return int(cursor)
    except ValueError as exc:
        raise Invalid("The cursor is not valid", "invalid_cursor") from exc
