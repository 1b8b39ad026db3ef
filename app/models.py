"""The composition root of the data: every domain's models, so metadata is complete
(Alembic, tests); every domain's SQL functions (synced after each upgrade to head, see
migrations/env.py); and every package's visibility rules, so app/operators/visibility.py knows
who sees each model's rows in every process that imports this (app, workers, CLI, tests)."""

# For their effect: indexes on touchpoints; the visibility rules of Conversation, Contact,
# ChannelAccount (inbox) and Touchpoint (touchpoints).
import app.analytics.models
import app.inbox.visibility
import app.search.models
import app.touchpoints.visibility  # noqa: F401
from app.attachments.models import Attachment, MessageAttachment
from app.audit.models import AuditEntry
from app.automation.models import AutomationRule, AutomationRun, Macro
from app.bots.models import AgentBot, AgentBotChannel
from app.bots.sql import CHANNEL_BOT
from app.business_hours.models import (
    AutoReplyClaim,
    AutoReplyText,
    BusinessHoliday,
    BusinessHours,
    BusinessInterval,
)
from app.business_hours.sql import ALL as BUSINESS_HOURS_FUNCTIONS
from app.canned.models import CannedResponse
from app.chains.models import ChainTemplate, ChainWatchdog, Order, OrderEvent
from app.channels.models import ChannelAccount
from app.contacts.models import Category, Contact, ContactIdentity, PriorityLevel
from app.contacts.sql import IN_LIVE_BASE, UPSERT_IDENTITY
from app.db.base import Base
from app.db.sqlfunctions import SqlFunction
from app.delivery.models import OutboxItem, PendingStatus
from app.events.models import DomainEventRow, EventConsumer
from app.inbox.models import Conversation, Message
from app.inbox.saved_views import SavedView
from app.ingest.sql import INGEST_MESSAGE
from app.labels.models import Label, contact_labels, conversation_labels
from app.operators.models import ApiKey, Operator, Team, operator_channels, team_members
from app.realtime.models import WsTicket
from app.routing.models import OperatorLoadCount
from app.routing.sql import ROUTING_FUNCTIONS
from app.sales.models import CadenceSend, CadenceTemplate, SalesSettings, SalesTarget
from app.sales.sql import OPT_OUT_WORD
from app.scheduling.models import JobRun
from app.search.sql import ALL as SEARCH_FUNCTIONS
from app.surveys.models import Survey
from app.surveys.sql import AWAITING_SURVEY
from app.touchpoints.models import Touchpoint
from app.touchpoints.sql import REACTION_FOR, RECORD_TOUCHPOINT
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from app.webhooks.sql import EVENT_SUBSCRIBED

# Order does not matter: sync() puts dependencies first.
SQL_FUNCTIONS: tuple[SqlFunction, ...] = (
    EVENT_SUBSCRIBED,
    UPSERT_IDENTITY,
    IN_LIVE_BASE,
    RECORD_TOUCHPOINT,
    REACTION_FOR,
    *ROUTING_FUNCTIONS,
    AWAITING_SURVEY,
    OPT_OUT_WORD,
    CHANNEL_BOT,
    INGEST_MESSAGE,
    *SEARCH_FUNCTIONS,
    *BUSINESS_HOURS_FUNCTIONS,
)

__all__ = [
    "SQL_FUNCTIONS",
    "AgentBot",
    "AgentBotChannel",
    "ApiKey",
    "Attachment",
    "AuditEntry",
    "AutoReplyClaim",
    "AutoReplyText",
    "AutomationRule",
    "AutomationRun",
    "Base",
    "BusinessHoliday",
    "BusinessHours",
    "BusinessInterval",
    "CadenceSend",
    "CadenceTemplate",
    "CannedResponse",
    "Category",
    "ChainTemplate",
    "ChainWatchdog",
    "ChannelAccount",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "DomainEventRow",
    "EventConsumer",
    "JobRun",
    "Label",
    "Macro",
    "Message",
    "MessageAttachment",
    "Operator",
    "OperatorLoadCount",
    "Order",
    "OrderEvent",
    "OutboxItem",
    "PendingStatus",
    "PriorityLevel",
    "SalesSettings",
    "SalesTarget",
    "SavedView",
    "Survey",
    "Team",
    "Touchpoint",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WsTicket",
    "contact_labels",
    "conversation_labels",
    "operator_channels",
    "team_members",
]

# Tables whose rows the migrations seed (defaults an installation edits): emptying the
# database for a fresh run keeps them.
SEEDED_TABLES = ("categories", "chain_templates", "priority_levels", "sales_settings")
