"""Extract and update the console's and the widget's message catalogues (Babel).

    python -m app.console.catalogues update   # extract to locales/<domain>.pot, merge into .po
    python -m app.console.catalogues check    # exit 1 listing strings without a translation

JavaScript: calls of _("..."), N_("...") (marks a string translated later) and
ngettext("one", "many", n) through Babel's JavaScript extractor. HTML: elements with
`data-i18n` (their text) and `data-i18n-attrs="placeholder aria-label"` (those attributes),
which static/i18n.js translates in the page."""

import re
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import IO

from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.pofile import write_po

from app.console.i18n import (
    DOMAINS,
    LANGUAGES,
    LOCALES,
    SOURCE_LANGUAGE,
    po_path,
    read_catalogue,
    texts,
)

STATIC = Path(__file__).parent / "static"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
WIDGET_FILES = ("widget.js",)
NOT_OURS = ("chart.umd.min.js",)  # vendored


def sources(domain: str) -> list[Path]:
    if domain == "widget":
        return [STATIC / name for name in WIDGET_FILES]
    return [
        p
        for p in sorted(STATIC.iterdir())
        if p.suffix in (".js", ".html") and p.name not in WIDGET_FILES + NOT_OURS
    ]


class _HtmlStrings(HTMLParser):
    """Collects (line, text) of data-i18n elements and data-i18n-attrs attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._open: list[tuple[str, int, list[str]]] = []  # (tag, line, text parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        line = self.getpos()[0]
        for name in (a.get("data-i18n-attrs") or "").split():
            if a.get(name):
                self.found.append((line, a[name] or ""))
        if "data-i18n" in a:
            self._open.append((tag, line, []))

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1][0] == tag:
            _, line, parts = self._open.pop()
            text = normalise("".join(parts))
            if text:
                self.found.append((line, text))


def normalise(text: str) -> str:
    """What i18n.js looks up for an element's text: whitespace collapsed, trimmed."""
    return re.sub(r"\s+", " ", text).strip()


def extract_html(
    fileobj: IO[bytes], keywords: object, comment_tags: object, options: object
) -> Iterator[tuple[int, str, str, list[str]]]:
    """A Babel extraction method (usable from a pybabel mapping file too)."""
    parser = _HtmlStrings()
    parser.feed(fileobj.read().decode("utf-8"))
    for line, text in parser.found:
        yield line, "_", text, []


def extract_domain(domain: str) -> Catalog:
    template = Catalog(domain=domain, project="chatcentre", msgid_bugs_address="", fuzzy=False)
    for path in sources(domain):
        with path.open("rb") as f:
            if path.suffix == ".html":
                found = list(extract(extract_html, f))  # type: ignore[arg-type]
            else:
                found = list(
                    extract(
                        "javascript", f, keywords=KEYWORDS, options={"parse_template_string": True}
                    )
                )
        for line, message, comments, _context in found:
            template.add(message, locations=[(f"static/{path.name}", line)], auto_comments=comments)
    return template


def update(domain: str) -> Catalog:
    template = extract_domain(domain)
    with (LOCALES / f"{domain}.pot").open("wb") as f:
        write_po(f, template, width=100, omit_header=False)
    for lang in LANGUAGES:
        if lang == SOURCE_LANGUAGE:
            continue
        path = po_path(domain, lang)
        if path.exists():
            catalog = read_catalogue(domain, lang)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=lang, domain=domain, project="chatcentre", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=100, ignore_obsolete=True)
    return template


# A _("literal") or N_("literal") as the eye sees it: Babel skips a call nested in another
# call's arguments (`_("{x}", { x: _("y") })`), and such a string would ship untranslated.
_CALL = re.compile(r"""(?<![\w$.])N?_\(\s*(["'])((?:\\.|(?!\1).)*)\1\s*[,)]""")


def unextracted(domain: str, template: Catalog) -> list[str]:
    ids = {texts(m.id)[0] for m in template if m.id}
    problems = []
    for path in sources(domain):
        if path.suffix != ".js":
            continue
        for match in _CALL.finditer(path.read_text(encoding="utf-8")):
            text = re.sub(r"\\(.)", r"\1", match.group(2))
            if text not in ids:
                problems.append(
                    f"static/{path.name}: {text!r} is not extracted (a _() inside another"
                    " _()'s arguments? compute it first)"
                )
    return problems


def missing(domain: str, lang: str) -> list[str]:
    """Strings the sources use that `lang`'s catalogue lacks (absent, empty or fuzzy),
    translations whose {placeholders} differ from the English, and calls Babel cannot see."""
    catalog = read_catalogue(domain, lang)
    template = extract_domain(domain)
    problems = unextracted(domain, template)
    for m in template:
        if not m.id:
            continue
        key = texts(m.id)[0]
        have = catalog.get(m.id)
        forms = [] if have is None else texts(have.string)
        if have is None or have.fuzzy or not forms or not all(forms):
            problems.append(f"{lang}/{domain}.po: no translation of {key!r}")
            continue
        wanted = set(re.findall(r"\{(\w+)\}", " ".join(texts(m.id))))
        for form in forms:
            if set(re.findall(r"\{(\w+)\}", form)) != wanted:
                problems.append(f"{lang}/{domain}.po: placeholders of {key!r} differ: {form!r}")
    return problems


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command == "update":
        for domain in DOMAINS:
            update(domain)
            print(f"updated {domain}")
    problems = [p for d in DOMAINS for lang in LANGUAGES if lang != "en" for p in missing(d, lang)]
    for p in problems:
        print(p)
    return 1 if problems and command == "check" else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
