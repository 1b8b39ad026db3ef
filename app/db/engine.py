"""Where the database is: the configured URL, or the embedded server."""

from app.config import Settings
from app.db.embedded import start_embedded


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.data_dir)


def asyncpg_dsn(url: str) -> str:
    """The same URL without the SQLAlchemy driver suffix, for raw asyncpg connections."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)
