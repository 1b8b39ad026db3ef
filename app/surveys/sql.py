"""The surveys' SQL functions."""

from pathlib import Path

from app.db.sqlfunctions import SqlFunction

AWAITING_SURVEY = SqlFunction(
    "chatcentre_awaiting_survey", Path(__file__).parent / "sql" / "awaiting_survey.sql"
)
