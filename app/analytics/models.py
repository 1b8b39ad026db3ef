"""Indexes the analytics need on the touchpoint log (migration ..._analytics_indexes).
They live here, next to the queries they serve, and attach to the touchpoints table's metadata.

All are partial or narrow: each covers only the rows one report reads, with the columns it
filters on, so the reports run as index-only scans instead of reading the whole log."""

from sqlalchemy import Index, text

from app.touchpoints.models import CLIENT_TOUCH_KINDS, Touchpoint

CLIENT_KINDS_SQL = "kind IN ({})".format(", ".join(f"'{k.value}'" for k in CLIENT_TOUCH_KINDS))

_t = Touchpoint.__table__.c

# Touches per client, dropped leads (count and last client touch per contact), cadence.
client_touches = Index(
    "ix_touchpoints_client_contact_occurred",
    _t.contact_id,
    _t.occurred_at,
    postgresql_include=["channel", "operator_id", "chain", "step"],
    postgresql_where=text(CLIENT_KINDS_SQL),
)

# Negative signals for the adjusted SR: a few percent of the log.
negative_touches = Index(
    "ix_touchpoints_negative_occurred",
    _t.occurred_at,
    postgresql_where=text("reaction = 'negative'"),
)

# Inbound load: inbound messages by time, with what decides their manager.
inbound_messages = Index(
    "ix_touchpoints_inbound_occurred",
    _t.occurred_at,
    postgresql_include=["operator_id", "conversation_id", "channel"],
    postgresql_where=text("kind = 'message' AND direction = 'inbound'"),
)
