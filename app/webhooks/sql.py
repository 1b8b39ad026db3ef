"""The outgoing webhooks' SQL function: who subscribes to an event (app.events.sql names it
for the SQL that stores the on_demand events)."""

from pathlib import Path

from app.db.sqlfunctions import SqlFunction
from app.events.sql import SUBSCRIBED

EVENT_SUBSCRIBED = SqlFunction(SUBSCRIBED, Path(__file__).parent / "sql" / "event_subscribed.sql")
