"""The search's SQL functions. Each rule is written once, in SQL, and called by name both by
the indexes (migration search) and by the queries (app/search/service.py)."""

from pathlib import Path

from app.db.sqlfunctions import SqlFunction, literal

_DIR = Path(__file__).parent / "sql"

# One configuration for every message: PostgreSQL's `russian` stems Cyrillic words with the
# Russian Snowball stemmer and ASCII words with the English one (and drops both languages'
# stop words), so "доставки" finds "доставка" and "orders" finds "order" in one tsvector.
CONFIG = {"CONFIG": literal("russian") + "::regconfig"}

PHONE_KEY = SqlFunction("chatcentre_phone_key", _DIR / "phone_key.sql")
SEARCH_DOCUMENT = SqlFunction(
    "chatcentre_search_document", _DIR / "search_document.sql", params=CONFIG
)
SEARCH_QUERY = SqlFunction("chatcentre_search_query", _DIR / "search_query.sql", params=CONFIG)
SEARCH_HEADLINE = SqlFunction(
    "chatcentre_search_headline", _DIR / "search_headline.sql", params=CONFIG
)

ALL = (PHONE_KEY, SEARCH_DOCUMENT, SEARCH_QUERY, SEARCH_HEADLINE)
