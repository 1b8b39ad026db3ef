"""The sales domain's SQL functions."""

from pathlib import Path

from app.db.sqlfunctions import SqlFunction

OPT_OUT_WORD = SqlFunction(
    "chatcentre_opt_out_word", Path(__file__).parent / "sql" / "opt_out_word.sql"
)
