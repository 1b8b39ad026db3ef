"""The one rule for cutting a long text into messages a provider accepts. A connector
declares its limit (`max_text_length`); the outbox splits a reply by it at queue time.

Lengths are counted in UTF-16 code units, as Telegram counts them; elsewhere that is at
least the character count, so a part never comes out too long."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# Where to cut, best first: between paragraphs, between lines, between words.
_BREAKS = ("\n\n", "\n", " ")


def split_text(text: str, limit: int) -> list[str]:
    """Parts of at most `limit` units, in order; joined they give the text back. A part
    ends after the last paragraph break in the second half of its window, else the last
    line break there, else the last space, else it is cut hard at the limit."""
    parts: list[str] = []
    while utf16_len(text) > limit:
        end = units = 0
        for i, ch in enumerate(text):
            units += 2 if ord(ch) > 0xFFFF else 1
            if units > limit:
                break
            end = i + 1
        head = text[:end]
        for mark in _BREAKS:
            cut = head.rfind(mark)
            if cut >= end // 2:
                end = cut + len(mark)
                break
        parts.append(text[:end])
        text = text[end:]
    if text or not parts:
        parts.append(text)
    return parts
