"""Snippets safe to put in a page: the text HTML-escaped first, then only our own <mark>
tags added. PostgreSQL marks what matched with two private-use characters, which cannot
be HTML and are turned into tags after the escaping."""

import html
import re

START, STOP = "\ue000", "\ue001"
_MARKERS = re.compile(f"[{START}{STOP}]")
CONTEXT = 60  # characters kept on each side of a partial match


def to_html(marked: str) -> str:
    """A headline with START/STOP markers as escaped HTML with <mark> elements."""
    escaped = html.escape(marked, quote=True)
    return escaped.replace(START, "<mark>").replace(STOP, "</mark>")


def has_marks(marked: str) -> bool:
    return START in marked


def around(text: str, q: str) -> str:
    """`text` cut around the first case-insensitive occurrence of `q`, marked: for what the
    trigram match found inside a word, where the full-text headline marks nothing."""
    text = _MARKERS.sub("", text)
    at = text.casefold().find(q.casefold())
    if at < 0:
        cut = text[: 2 * CONTEXT]
        return to_html(cut + ("…" if len(text) > len(cut) else ""))
    start, end = max(0, at - CONTEXT), min(len(text), at + len(q) + CONTEXT)
    marked = (
        ("…" if start else "")
        + text[start:at]
        + START
        + text[at : at + len(q)]
        + STOP
        + text[at + len(q) : end]
        + ("…" if end < len(text) else "")
    )
    return to_html(marked)
