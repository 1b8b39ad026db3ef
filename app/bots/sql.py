"""The agent bots' SQL functions."""

from pathlib import Path

from app.db.sqlfunctions import SqlFunction

CHANNEL_BOT = SqlFunction(
    "chatcentre_channel_bot", Path(__file__).parent / "sql" / "channel_bot.sql"
)
