"""Message catalogues of the console and the widget: gettext .po files (msgid = the English
text) under locales/<lang>/LC_MESSAGES/<domain>.po, read once and served as JSON to the
browser, which has no gettext of its own (static/i18n.js, widget.js).

Served from the .po files themselves rather than from compiled copies: one source of truth,
nothing to forget to rebuild. English needs no catalogue: the msgids are the English text."""

import gettext
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent / "locales"
SOURCE_LANGUAGE = "en"
LANGUAGES = ("en", "ru")  # what the console and the widget can be shown in
DOMAINS = ("console", "widget")


def po_path(domain: str, lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{domain}.po"


def read_catalogue(domain: str, lang: str) -> Catalog:
    with po_path(domain, lang).open("rb") as f:
        return read_po(f, locale=lang, domain=domain)


def texts(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    """A message's id or string as a list: one text, or the plural forms."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v or "") for v in value]


def plural_indexes(catalog: Catalog, lang: str) -> dict[str, int]:
    """CLDR plural category -> index into the .po plural forms. The browser picks the
    category with Intl.PluralRules (no formula to eval under the CSP); the .po header's
    formula decides which form each category means."""
    formula = gettext.c2py(catalog.plural_expr)
    rule = Locale.parse(lang).plural_form
    indexes: dict[str, int] = {}
    for n in range(0, 1001):
        indexes.setdefault(rule(n), formula(n))
    indexes.setdefault("other", catalog.num_plurals - 1)
    return indexes


@cache
def catalogue_json(domain: str, lang: str) -> dict[str, Any]:
    """{"lang", "plural": {category: index}, "messages": {msgid: str | [forms]}}: translated,
    non-fuzzy entries only (anything else shows in English)."""
    if lang == SOURCE_LANGUAGE:
        return {"lang": lang, "plural": {"one": 0, "other": 1}, "messages": {}}
    catalog = read_catalogue(domain, lang)
    messages: dict[str, Any] = {}
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        forms = texts(m.string)
        if not forms or not all(forms):
            continue
        messages[texts(m.id)[0]] = forms if m.pluralizable else forms[0]
    return {"lang": lang, "plural": plural_indexes(catalog, lang), "messages": messages}


def pick_language(requested: str | None, accept_language: str | None = None) -> str:
    """`requested` if we have it, else the first of Accept-Language we have, else English."""
    for tag in [requested or "", *_accepted(accept_language)]:
        base = tag.strip().lower().split("-")[0].split("_")[0]
        if base in LANGUAGES:
            return base
    return SOURCE_LANGUAGE


def _accepted(header: str | None) -> list[str]:
    return [part.split(";")[0] for part in (header or "").split(",") if part.strip()]
