"""Domain events stored by SQL functions (the ingest, the identity upsert, the touchpoint
log): the rows' header and payload written from the event classes, so a stored payload always
builds its event (`EventCls(**payload)`), and the one rule of whether an event is stored."""

import dataclasses
from collections.abc import Mapping

from app.db.sqlfunctions import SqlFunctionError, literal
from app.events.types import DomainEvent

# Whether an active outgoing-webhook endpoint subscribes to an event name: declared by its
# owner (app/webhooks/sql.py, the endpoints' table), named here for the events' SQL.
SUBSCRIBED = "chatcentre_event_subscribed"


def event_header(event: type[DomainEvent]) -> str:
    """`name, version, aggregate` of the event's domain_events rows, as SQL."""
    return f"{literal(event.name)}, {event.version}, {literal(event.aggregate)}"


def event_payload(event: type[DomainEvent], sql: Mapping[str, str]) -> str:
    """The event's payload as a jsonb_build_object with the event class's keys. `sql` maps
    each key to its SQL expression; a field without one is an error (the stored payload must
    build the event), an expression for a key the class does not have is left out."""
    keys = [f.name for f in dataclasses.fields(event)]
    if missing := [k for k in keys if k not in sql]:
        raise SqlFunctionError(f"{event.name}: no SQL for payload keys {missing}")
    return "jsonb_build_object(" + ", ".join(f"{literal(k)}, {sql[k]}" for k in keys) + ")"


def stored_if(event: type[DomainEvent]) -> str:
    """The SQL condition under which the event's row is stored: always, or for an
    `on_demand` event while an endpoint subscribes to it (evaluated in the statement that
    stores it, so the check costs no round trip)."""
    return f"{SUBSCRIBED}({literal(event.name)})" if event.on_demand else "true"
