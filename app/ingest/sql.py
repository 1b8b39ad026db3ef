"""The ingest's SQL function, written from the inbox's and the touchpoints' rules."""

from pathlib import Path

from app.contacts.sql import UPSERT_IDENTITY
from app.db.sqlfunctions import SqlFunction, case, literal
from app.inbox import rules as inbox_rules
from app.routing.sql import RESPONSE_DUE_AT
from app.surveys.sql import AWAITING_SURVEY
from app.touchpoints import rules as touch_rules
from app.touchpoints.sql import REACTION_FOR, RECORD_TOUCHPOINT

INGEST_MESSAGE = SqlFunction(
    "chatcentre_ingest_message",
    Path(__file__).parent / "sql" / "ingest_message.sql",
    params={
        "ACTIVE_CV": inbox_rules.not_closed("cv.status"),
        "OPENED": literal(inbox_rules.OPENED),
        "REOPEN_ON_INBOUND": inbox_rules.sql_list(inbox_rules.REOPEN_ON_INBOUND),
        "SURVEY_ANSWER_TOUCH": literal(touch_rules.SURVEY_ANSWER_TOUCH),
        "INBOUND_TOUCH_CASE": case(
            "p_kind",
            {k: t.value for k, t in touch_rules.INBOUND_TOUCH_BY_MESSAGE_KIND.items()},
            default=literal(touch_rules.INBOUND_TOUCH),
        ),
    },
    depends_on=(
        UPSERT_IDENTITY.name,
        AWAITING_SURVEY.name,
        RESPONSE_DUE_AT.name,
        RECORD_TOUCHPOINT.name,
        REACTION_FOR.name,
    ),
)
