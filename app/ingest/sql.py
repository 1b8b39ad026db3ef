"""The ingest's SQL function, written from the inbox's and the touchpoints' rules and the
event catalogue."""

from pathlib import Path

from app.contacts.sql import UPSERT_IDENTITY
from app.db.sqlfunctions import SqlFunction, case, literal
from app.events.sql import event_header, event_payload
from app.events.types import ConversationCreated, MessageCreated
from app.inbox import rules as inbox_rules
from app.routing.sql import RESPONSE_DUE_AT, ROUTE_CONVERSATION
from app.surveys.sql import AWAITING_SURVEY
from app.touchpoints import rules as touch_rules
from app.touchpoints.sql import REACTION_FOR, RECORD_TOUCHPOINT

# What the function's variables are in the events' terms.
_CONVERSATION_CREATED = {
    "conversation_id": "o_conversation_id",
    "contact_id": "v_contact_id",  # the conversation's (the sender's unless p_conversation_id)
    "channel_id": "p_channel_id",
    "channel_type": "p_channel_type",
    "team_id": "p_team_id",
    "opened_by": literal("contact"),  # the client wrote
}
_MESSAGE_CREATED = {
    "message_id": "o_message_id",
    "conversation_id": "o_conversation_id",
    "contact_id": "o_contact_id",
    "channel_id": "p_channel_id",
    "channel_type": "p_channel_type",
    "direction": literal("inbound"),
    "sender_type": literal("contact"),
    "operator_id": "NULL",
    "touch_kind": "v_touch_kind",
    "chain": "NULL",
    "step": "NULL",
    "order_id": "NULL",
    "rating": "v_rating",
    "answers_survey": "v_survey_id",
    "first_part": "true",
}

INGEST_MESSAGE = SqlFunction(
    "chatcentre_ingest_message",
    Path(__file__).parent / "sql" / "ingest_message.sql",
    params={
        "ACTIVE_CV": inbox_rules.not_closed("cv.status"),
        "OPENED": literal(inbox_rules.OPENED),
        "WITH_BOT": literal(inbox_rules.WITH_BOT),
        "REOPEN_ON_INBOUND": inbox_rules.sql_list(inbox_rules.REOPEN_ON_INBOUND),
        "SURVEY_ANSWER_TOUCH": literal(touch_rules.SURVEY_ANSWER_TOUCH),
        "INBOUND_TOUCH_CASE": case(
            "p_kind",
            {k: t.value for k, t in touch_rules.INBOUND_TOUCH_BY_MESSAGE_KIND.items()},
            default=literal(touch_rules.INBOUND_TOUCH),
        ),
        "CONVERSATION_CREATED": event_header(ConversationCreated),
        "CONVERSATION_CREATED_PAYLOAD": event_payload(ConversationCreated, _CONVERSATION_CREATED),
        "MESSAGE_CREATED": event_header(MessageCreated),
        "MESSAGE_CREATED_PAYLOAD": event_payload(MessageCreated, _MESSAGE_CREATED),
    },
    depends_on=(
        UPSERT_IDENTITY.name,
        AWAITING_SURVEY.name,
        RESPONSE_DUE_AT.name,
        ROUTE_CONVERSATION.name,
        RECORD_TOUCHPOINT.name,
        REACTION_FOR.name,
        # app/sales/sql/opt_out_word.sql (named, not imported: sales sits above the ingest)
        "chatcentre_opt_out_word",
        # app/bots/sql/channel_bot.sql (named, not imported: bots sit above the ingest)
        "chatcentre_channel_bot",
    ),
)
