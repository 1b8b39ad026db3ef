"""Business time's SQL functions: the one implementation of the schedule (the deadlines are
computed in SQL, by the ingest and by routing; Python asks these functions)."""

from pathlib import Path

from app.db.sqlfunctions import SqlFunction, literal

_DIR = Path(__file__).parent / "sql"
HORIZON_WEEKS = 53  # how far a deadline or an off-hours period's start is looked for

OPEN_INTERVALS = SqlFunction("chatcentre_open_intervals", _DIR / "open_intervals.sql")
BUSINESS_OPEN = SqlFunction(
    "chatcentre_business_open", _DIR / "business_open.sql", depends_on=(OPEN_INTERVALS.name,)
)
BUSINESS_SECONDS = SqlFunction(
    "chatcentre_business_seconds",
    _DIR / "business_seconds.sql",
    depends_on=(OPEN_INTERVALS.name,),
)
BUSINESS_DUE_AT = SqlFunction(
    "chatcentre_business_due_at",
    _DIR / "business_due_at.sql",
    params={"HORIZON_WEEKS": literal(HORIZON_WEEKS)},
    depends_on=(OPEN_INTERVALS.name,),
)
BUSINESS_CLOSED_SINCE = SqlFunction(
    "chatcentre_business_closed_since",
    _DIR / "business_closed_since.sql",
    params={"HORIZON_WEEKS": literal(HORIZON_WEEKS)},
    depends_on=(BUSINESS_OPEN.name, OPEN_INTERVALS.name),
)

ALL = (OPEN_INTERVALS, BUSINESS_OPEN, BUSINESS_SECONDS, BUSINESS_DUE_AT, BUSINESS_CLOSED_SINCE)
