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

# The load counts (operator_load_counts) and the triggers that keep them. Each trigger
# fires only when a counted column may have changed: a message's update of its
# conversation's activity costs nothing.
SHIFT_LOAD = SqlFunction("chatcentre_shift_load", _DIR / "shift_load.sql")

OPEN_LOAD_COUNT = SqlFunction(
    "chatcentre_open_load_count",
    _DIR / "open_load_count.sql",
    triggers=(
        "CREATE TRIGGER chatcentre_load_count_opened AFTER INSERT ON operators "
        "FOR EACH ROW EXECUTE FUNCTION chatcentre_open_load_count()",
    ),
)

COUNT_OPEN_CONVERSATIONS = SqlFunction(
    "chatcentre_count_open_conversations",
    _DIR / "count_open_conversations.sql",
    params={
        "ACTIVE_OLD": inbox_rules.not_closed("OLD.status"),
        "ACTIVE_NEW": inbox_rules.not_closed("NEW.status"),
    },
    depends_on=(SHIFT_LOAD.name,),
    triggers=(
        "CREATE TRIGGER chatcentre_open_conversations_inserted AFTER INSERT ON conversations "
        "FOR EACH ROW WHEN (NEW.assignee_id IS NOT NULL) "
        "EXECUTE FUNCTION chatcentre_count_open_conversations()",
        "CREATE TRIGGER chatcentre_open_conversations_updated "
        "AFTER UPDATE OF assignee_id, status ON conversations FOR EACH ROW "
        "WHEN (OLD.assignee_id IS DISTINCT FROM NEW.assignee_id "
        "OR OLD.status IS DISTINCT FROM NEW.status) "
        "EXECUTE FUNCTION chatcentre_count_open_conversations()",
        "CREATE TRIGGER chatcentre_open_conversations_deleted AFTER DELETE ON conversations "
        "FOR EACH ROW WHEN (OLD.assignee_id IS NOT NULL) "
        "EXECUTE FUNCTION chatcentre_count_open_conversations()",
    ),
)

COUNT_LIVE_BASE = SqlFunction(
    "chatcentre_count_live_base",
    _DIR / "count_live_base.sql",
    depends_on=(SHIFT_LOAD.name, IN_LIVE_BASE.name),
    triggers=(
        "CREATE TRIGGER chatcentre_live_base_inserted AFTER INSERT ON contacts "
        "FOR EACH ROW WHEN (NEW.owner_id IS NOT NULL) "
        "EXECUTE FUNCTION chatcentre_count_live_base()",
        "CREATE TRIGGER chatcentre_live_base_updated "
        "AFTER UPDATE OF owner_id, stage ON contacts FOR EACH ROW "
        "WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.stage IS DISTINCT FROM NEW.stage) "
        "EXECUTE FUNCTION chatcentre_count_live_base()",
        "CREATE TRIGGER chatcentre_live_base_deleted AFTER DELETE ON contacts "
        "FOR EACH ROW WHEN (OLD.owner_id IS NOT NULL) "
        "EXECUTE FUNCTION chatcentre_count_live_base()",
    ),
)

OPERATOR_LOADS = SqlFunction(
    "chatcentre_operator_loads",
    _DIR / "operator_loads.sql",
    depends_on=(OPEN_LOAD_COUNT.name, COUNT_OPEN_CONVERSATIONS.name, COUNT_LIVE_BASE.name),
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
    SHIFT_LOAD,
    OPEN_LOAD_COUNT,
    COUNT_OPEN_CONVERSATIONS,
    COUNT_LIVE_BASE,
    RESPONSE_DUE_AT,
    OPERATOR_LOADS,
    ASSIGN_CONVERSATION,
    ENQUEUE_CONVERSATION,
    CLAIM_OPERATOR,
    ROUTE_CONVERSATION,
)
