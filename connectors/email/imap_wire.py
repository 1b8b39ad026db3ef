"""IMAP wire details the reader needs and aioimaplib leaves to its caller: reading its
response lines (FETCH literals, SEARCH numbers, SELECT codes) and writing folder names and
dates the way RFC 3501 wants them."""

import base64
import re
from datetime import date
from typing import Any

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_FETCH_LINE = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_NUMBERS = re.compile(rb"^(?:SEARCH)?[\d ]*$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def select_codes(lines: list[Any]) -> tuple[int | None, int | None]:
    """(UIDVALIDITY, UIDNEXT) from a SELECT or EXAMINE answer."""
    uidvalidity = uidnext = None
    for line in lines:
        if isinstance(line, bytes | bytearray):
            if m := _UIDVALIDITY.search(line):
                uidvalidity = int(m.group(1))
            if m := _UIDNEXT.search(line):
                uidnext = int(m.group(1))
    return uidvalidity, uidnext


def search_uids(lines: list[Any]) -> list[int]:
    uids: list[int] = []
    for line in lines:
        # aioimaplib hands "* SEARCH 1 2 3" over as b"1 2 3".
        if isinstance(line, bytes) and _NUMBERS.match(line):
            uids += [int(n) for n in line.split()]
    return uids


def fetched_sizes(lines: list[Any]) -> dict[int, int]:
    """UID -> RFC822.SIZE from a UID FETCH (UID RFC822.SIZE) answer."""
    sizes: dict[int, int] = {}
    for line in lines:
        if isinstance(line, bytes) and _FETCH_LINE.match(line):
            uid, size = _UID.search(line), _SIZE.search(line)
            if uid and size:
                sizes[int(uid.group(1))] = int(size.group(1))
    return sizes


def fetched_bodies(lines: list[Any]) -> list[tuple[int, bytes]]:
    """(UID, bytes) from a UID FETCH answer: a "n FETCH (UID u BODY[] {size}" line, the
    literal, then the closing line (which may carry the UID instead)."""
    found: list[tuple[int, bytes]] = []
    for i, line in enumerate(lines):
        if not (isinstance(line, bytes) and _FETCH_LINE.match(line)):
            continue
        literal = lines[i + 1] if i + 1 < len(lines) else None
        if not isinstance(literal, bytearray | bytes) or _FETCH_LINE.match(literal):
            continue
        tail = lines[i + 2] if i + 2 < len(lines) else b""
        m = _UID.search(line) or (_UID.search(tail) if isinstance(tail, bytes) else None)
        if m:
            found.append((int(m.group(1)), bytes(literal)))
    return found


def response_text(response: Any) -> str:
    lines = [bytes(x).decode("utf-8", "replace") for x in response.lines if isinstance(x, bytes)]
    return " ".join(lines)[-300:] or str(response.result)


def since(day: date) -> str:
    """A SEARCH SINCE criterion (IMAP dates are English, whatever the locale)."""
    return f"SINCE {day.day}-{_MONTHS[day.month - 1]}-{day.year}"


def mailbox_name(name: str) -> str:
    """A folder name as IMAP wants it: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = base64.b64encode("".join(pending).encode("utf-16-be")).decode()
            out.append("&" + data.rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    encoded = "".join(out).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{encoded}"'
