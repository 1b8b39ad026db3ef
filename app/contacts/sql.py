"""The contacts' SQL functions."""

from pathlib import Path

from app.db.sqlfunctions import SqlFunction

# One sender's identity and contact, created or refreshed in one call (the ingest's first
# step; widget sessions call it alone).
UPSERT_IDENTITY = SqlFunction(
    "chatcentre_upsert_identity", Path(__file__).parent / "sql" / "upsert_identity.sql"
)
