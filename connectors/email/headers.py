"""Header values as the rest of the connector needs them: Message-IDs in one form, addresses,
the reply token of a plus address, a reply's subject. Every reader here takes whatever a
mailbox holds (broken encodings, junk around ids) and never raises."""

import re
from email.message import EmailMessage
from email.utils import getaddresses

_MSGID = re.compile(r"<([^<>\s]+)>")
# "Re:", "RE[2]:", "Re(3):", and the Russian clients' "Ответ:", "Отв:", "На:" (Outlook, The Bat!).
_REPLY_PREFIX = re.compile(
    r"^(?:\s*(?:re|ответ|отв|на)\s*(?:\[\d+\]|\(\d+\))?\s*:\s*)+", re.IGNORECASE
)
_SPACE = re.compile(r"\s+")


def message_id(value: str | None) -> str | None:
    """The one form we store and compare: the id without angle brackets. A value without
    brackets (some mailers) is taken as it is when it has no spaces."""
    ids = message_ids(value)
    return ids[0] if ids else None


def message_ids(value: str | None) -> list[str]:
    """All ids of a References or In-Reply-To value, in order, each once."""
    if not value:
        return []
    found = _MSGID.findall(value)
    if not found:
        bare = value.strip()
        found = [bare] if bare and not _SPACE.search(bare) else []
    seen: dict[str, None] = {}
    for item in found:
        seen.setdefault(item.strip(), None)
    return [i for i in seen if i]


def header_text(msg: EmailMessage, name: str) -> str | None:
    """A header's decoded text (RFC 2047 words decoded), unfolded; raw 8-bit bytes some
    mailers put in headers are read as UTF-8, else windows-1251. None when absent."""
    raw = _raw_header(msg, name)
    if raw is None:
        return None
    if _has_8bit(raw):  # the header registry would turn these bytes into U+FFFD
        return _SPACE.sub(" ", fix_8bit(raw)).strip()
    try:
        value = str(msg.get(name))
    except Exception:  # a header the registry cannot parse at all
        value = raw
    return _SPACE.sub(" ", value).strip()


def _raw_header(msg: EmailMessage, name: str) -> str | None:
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


def fix_8bit(text: str) -> str:
    """The parser keeps undeclared 8-bit bytes as surrogate escapes: decode them properly."""
    if not _has_8bit(text):
        return text
    raw = text.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1251", "replace")


def _has_8bit(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def addresses(msg: EmailMessage, *names: str) -> list[tuple[str, str]]:
    """(display name, address) of the named headers, addresses lower-cased; entries without
    an @ are dropped."""
    found: list[tuple[str, str]] = []
    for name in names:
        values = [header_text(msg, name)] if name in msg else []
        for display, address in getaddresses([v for v in values if v]):
            address = address.strip().lower()
            if "@" in address:
                found.append((display.strip(), address))
    return found


def reply_token(recipients: list[str], mailbox_address: str | None = None) -> str | None:
    """The tag of a plus address we were written to (support+c123@x -> "c123"): replies to
    a conversation's own address find the conversation even without In-Reply-To. When the
    mailbox address is known, only its own plus addresses count."""
    base = _split(mailbox_address) if mailbox_address else None
    for address in recipients:
        local, _, domain = address.rpartition("@")
        user, plus, tag = local.partition("+")
        if not plus or not tag:
            continue
        if base is None or (user, domain) == base:
            return tag
    return None


def plus_address(address: str, token: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local.partition('+')[0]}+{token}@{domain}"


def _split(address: str) -> tuple[str, str]:
    local, _, domain = address.lower().rpartition("@")
    return local.partition("+")[0], domain


def reply_subject(subject: str | None) -> str:
    """ "Re: " and the subject without the reply prefixes it had: never "Re: Re:"."""
    rest = _REPLY_PREFIX.sub("", subject or "").strip()
    return f"Re: {rest}" if rest else "Re:"


def domain_of(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"
