"""The touchpoint log's SQL functions, fed by app/touchpoints/rules.py."""

from pathlib import Path

from app.db.sqlfunctions import SqlFunction, case, literal
from app.events.sql import SUBSCRIBED, event_header, event_payload, stored_if
from app.events.types import TouchpointCreated
from app.touchpoints.models import Reaction
from app.touchpoints.rules import REACTION_BY_RATING, SHAPES

_DIR = Path(__file__).parent / "sql"


def _shape_case(part: int) -> str:
    return case("p_kind", {kind.value: shape[part] for kind, shape in SHAPES.items()})


# The one write path of the touchpoint log: touchpoints.service.record() and the ingest.
RECORD_TOUCHPOINT = SqlFunction(
    "chatcentre_record_touchpoint",
    _DIR / "record_touchpoint.sql",
    params={
        "RECURRENCE_CASE": _shape_case(0),
        "ATTENTION_CASE": _shape_case(1),
        "UNKNOWN": literal(Reaction.unknown),
        "TOUCHPOINT_CREATED": event_header(TouchpointCreated),
        "TOUCHPOINT_CREATED_PAYLOAD": event_payload(
            TouchpointCreated,
            {
                "touchpoint_id": "v_id",
                "contact_id": "p_contact_id",
                "conversation_id": "p_conversation_id",
                "message_id": "p_message_id",
                "operator_id": "p_operator_id",
                "order_id": "p_order_id",
                "channel": "p_channel",
                "direction": "p_direction",
                "kind": "p_kind",
            },
        ),
        "TOUCHPOINT_CREATED_STORED": stored_if(TouchpointCreated),
    },
    depends_on=(SUBSCRIBED,),
)

REACTION_FOR = SqlFunction(
    "chatcentre_reaction_for",
    _DIR / "reaction_for.sql",
    params={
        "REACTION_CASE": case(
            "p_rating", {rating: r.value for rating, r in REACTION_BY_RATING.items()}
        )
    },
)

SQL_FUNCTIONS = (RECORD_TOUCHPOINT, REACTION_FOR)
