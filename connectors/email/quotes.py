"""The new text of a reply: the quoted history and the signature cut off (mail-parser-reply).

mail-parser-reply knows English, German and other languages' "On ... wrote:" and Outlook
header blocks, but not Russian ones; we add a "ru" entry to its language table, in its own
format, for the clients this market uses (Gmail, Yandex, Mail.ru, Outlook, Thunderbird,
Apple Mail in Russian). The library's own list handling cuts "- item" lines as a signature,
so lists are kept (keep_hyphen_lists)."""

import re

from mailparser_reply import constants
from mailparser_reply.parser import EmailMessage as ReplyMessage

_Q = constants.QUOTED_MATCH_INCLUDE
# "пт, 4 дек. 2026 г. в 10:15, Иван <ivan@x.ru>:" (Gmail), "04.12.2026, 10:15, "Иван"
# <ivan@x.ru>:" (Yandex), "Пятница, 4 декабря 2026, 10:15 +03:00 от Иван <ivan@x.ru>:"
# (Mail.ru), "04.12.2026 10:15, Иван пишет:" (Thunderbird), "... Иван написал(а):" (Apple).
_RU_WROTE = (
    r"^(" + _Q + r"(?:.{0,160}?(?:пишет|писал\(а\)|написал\(а\)|написала?|писала?)\s*:"
    r"|.{0,160}?\d{1,2}:\d{2}.{0,160}?<[^<>@\s]+@[^<>\s]+>\s*:))$"
)
_RU = {
    "wrote_header": _RU_WROTE,
    "from_header": r"((?:(?:^|\n|\n"
    + _Q
    + r")[* ]*(?:От|Отправлено|Кому|Тема|Дата|Копия):[ *]*(?:\s{,2}).*){2,}(?:\n.*){,1})",
    "disclaimers": [r"Конфиденциально:", r"Внимание:"],
    "signatures": [
        "С уважением",
        "С наилучшими пожеланиями",
        "Всего доброго",
        "Всего наилучшего",
        "Хорошего дня",
    ],
    "sent_from": r"Отправлено (?:с|из)",
}
constants.MAIL_LANGUAGES.setdefault("ru", _RU)

LANGUAGES = ["ru", "en", "de"]
_QUOTED_LINE = re.compile(r"^\s*>")


def new_text(text: str) -> str:
    """What the sender wrote this time; the whole text when nothing is recognised as history
    or signature, or when cutting would leave nothing."""
    if not text.strip():
        return ""
    try:
        parsed = ReplyMessage(text=text, languages=list(LANGUAGES), keep_hyphen_lists=True).read()
        bodies = [r.body for r in parsed.replies if r.body.strip()]
    except Exception:  # a regex corner case in the library must not lose the mail
        bodies = []
    latest = bodies[0] if bodies else text.strip()
    return _drop_trailing_quote(latest) or latest


def _drop_trailing_quote(text: str) -> str:
    """A block of "> " lines at the end whose header line the library did not know."""
    lines = text.splitlines()
    while lines and (not lines[-1].strip() or _QUOTED_LINE.match(lines[-1])):
        lines.pop()
    return "\n".join(lines).strip()
