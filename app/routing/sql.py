"""Routing's SQL functions, fed by its Python policy and the inbox's rules. The routing
decision, the claim and the assignment live here (app/routing/sql/*.sql); the service
calls them and raises the events."""

from pathlib import Path

from app.business_hours.sql import BUSINESS_DUE_AT
from app.contacts.sql import IN_LIVE_BASE
from app.db.sqlfunctions import SqlFunction, literal
from app.events.sql import event_header, event_payload
from app.events.types import ConversationAssigned, ConversationQueued
from app.inbox import rules as inbox_rules
from app.operators.models import Presence
from app.routing.service import DEFAULT_POLICY, Strategy
from app.touchpoints.models import TouchKind
from app.touchpoints.sql import RECORD_TOUCHPOINT

_DIR = Path(__file__).parent / "sql"

RESPONSE_DUE_AT = SqlFunction(
    "chatcentre_response_due_at",
    _DIR / "response_due_at.sql",
    params={"DEFAULT_TARGET": literal(DEFAULT_POLICY.response_target_seconds)},
    depends_on=(BUSINESS_DUE_AT.name,),
)

OPERATOR_LOADS = SqlFunction(
    "chatcentre_operator_loads",
    _DIR / "operator_loads.sql",
    params={"ACTIVE_C": inbox_rules.not_closed("c.status")},
    depends_on=(IN_LIVE_BASE.name,),
)

ASSIGN_CONVERSATION = SqlFunction(
    "chatcentre_assign_conversation",
    _DIR / "assign_conversation.sql",
    params={
        "AWAITING_REPLY_CV": inbox_rules.awaiting_reply_sql("cv"),
        "ASSIGNMENT_TOUCH": literal(TouchKind.assignment),
        "ASSIGNED": event_header(ConversationAssigned),
        "ASSIGNED_PAYLOAD": event_payload(
            ConversationAssigned,
            {
                "conversation_id": "p_conversation_id",
                "assignee_id": "p_operator_id",
                "previous_assignee_id": "o_previous_assignee_id",
                "reason": "p_reason",
                "by": "p_by",
                "note": "p_note",
            },
        ),
    },
    depends_on=(RESPONSE_DUE_AT.name, OPERATOR_LOADS.name, RECORD_TOUCHPOINT.name),
)

ENQUEUE_CONVERSATION = SqlFunction(
    "chatcentre_enqueue_conversation",
    _DIR / "enqueue_conversation.sql",
    params={
        "QUEUED": event_header(ConversationQueued),
        "QUEUED_PAYLOAD": event_payload(
            ConversationQueued,
            {
                "conversation_id": "p_conversation_id",
                "previous_assignee_id": "o_previous_assignee_id",
            },
        ),
    },
)

CLAIM_OPERATOR = SqlFunction(
    "chatcentre_claim_operator",
    _DIR / "claim_operator.sql",
    params={"ONLINE": literal(Presence.online)},
    depends_on=(OPERATOR_LOADS.name,),
)

ROUTE_CONVERSATION = SqlFunction(
    "chatcentre_route_conversation",
    _DIR / "route_conversation.sql",
    params={
        "ONLINE": literal(Presence.online),
        "DEFAULT_STRATEGY": literal(DEFAULT_POLICY.strategy),
        "BALANCED": literal(Strategy.balanced),
        "MANUAL": literal(Strategy.manual),
        "WITH_BOT": literal(inbox_rules.WITH_BOT),
        "ACTIVE_CV": inbox_rules.not_closed("cv.status"),
    },
    depends_on=(
        OPERATOR_LOADS.name,
        CLAIM_OPERATOR.name,
        ASSIGN_CONVERSATION.name,
        ENQUEUE_CONVERSATION.name,
    ),
)

ROUTING_FUNCTIONS = (
    RESPONSE_DUE_AT,
    OPERATOR_LOADS,
    ASSIGN_CONVERSATION,
    ENQUEUE_CONVERSATION,
    CLAIM_OPERATOR,
    ROUTE_CONVERSATION,
)
