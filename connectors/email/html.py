"""HTML mail: the text an operator reads, and the HTML kept for "show the original".

The kept HTML is sanitised (nh3): no scripts, styles, forms or event handlers, links open
without a referrer, and images only from the message itself (cid:) so that opening a mail
in the console loads no tracking pixel."""

from typing import Any

import nh3
from inscriptis import get_text
from inscriptis.model.config import ParserConfig

_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid"})
_CONFIG: Any = ParserConfig(display_links=False, display_images=False)


def _only_own_images(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src" and not value.lower().startswith("cid:"):
        return None
    return value


def sanitize(html: str) -> str:
    tags = set(nh3.ALLOWED_TAGS) | {"font", "center"}
    attributes = {k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()}
    attributes["img"] = attributes.get("img", set()) | {"src", "alt", "width", "height"}
    return nh3.clean(
        html,
        tags=tags,
        attributes=attributes,
        attribute_filter=_only_own_images,
        url_schemes=set(_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )


def to_text(html: str) -> str:
    """The visible text with its layout; empty for markup that shows nothing."""
    if not html.strip():
        return ""
    try:
        text = str(get_text(html, _CONFIG))
    except Exception:  # lxml gives up on some byte soup: fall back to the tags stripped
        text = nh3.clean(html, tags=set())
    lines = [line.rstrip() for line in text.splitlines()]
    return "\n".join(lines).strip()
