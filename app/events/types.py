"""The catalogue of domain events: what happened, as typed facts.

A service raises one of these with `app.events.dispatch.raise_event`; the handlers named in
`app/handlers.py` react inside the same transaction, the durable ones are stored in
`domain_events` (for consumers that come later: webhooks, automation), and after commit the
legacy bus frame (`bus()`) is published, so the WebSocket frames are what they always were.

Payloads are ids and small scalars: a reader that needs more reads the current rows.

Stable JSON keys (the SQL ingest function writes these rows itself, with
`jsonb_build_object`, and the Python side raises the same events with `stored=True`;
a stored payload must round-trip through `EventCls(**payload)`):

- conversation.created (aggregate "conversation"):
  conversation_id, contact_id, channel_id, channel_type, team_id, opened_by ("contact")
- message.created (aggregate "message"):
  message_id, conversation_id, contact_id, channel_id, channel_type, direction,
  sender_type, operator_id, touch_kind, chain, step, order_id, rating, answers_survey,
  first_part
- contact.created (aggregate "contact", chatcentre_upsert_identity): contact_id,
  channel_id, source
- touchpoint.created (aggregate "touchpoint", chatcentre_record_touchpoint): touchpoint_id,
  contact_id, conversation_id, message_id, operator_id, order_id, channel, direction, kind
  (these two are `on_demand`: stored only while an active webhook endpoint subscribes)

Change a payload's keys only together with `version` (and the SQL that writes it)."""

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from app.core.session import OPERATOR_SESSIONS_REVOKED, VISITOR_SESSIONS_REVOKED

Bus = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class DomainEvent:
    name: ClassVar[str]
    # The legacy realtime "type" this event is published as (None: not published).
    bus_type: ClassVar[str | None] = None
    # The payload keys the bus frame carries, in this order (the frame is {"type", *keys}).
    bus_keys: ClassVar[tuple[str, ...]] = ()
    # Stored in domain_events (False: a transient wake-up nobody needs to replay).
    durable: ClassVar[bool] = True
    # Read by outgoing webhooks alone (no automation trigger, no handler needs the row):
    # stored only while an active endpoint subscribes to it (app.events.sql.stored_if), so
    # the readers of domain_events do not wade through one per message for nobody.
    on_demand: ClassVar[bool] = False
    version: ClassVar[int] = 1
    aggregate: ClassVar[str]
    aggregate_key: ClassVar[str]  # the payload key holding the aggregate's id
    actor_key: ClassVar[str | None] = None  # the payload key naming the acting operator

    def payload(self) -> dict[str, Any]:
        return asdict(self)

    def bus(self) -> Bus | None:
        if self.bus_type is None:
            return None
        return {"type": self.bus_type, **{key: getattr(self, key) for key in self.bus_keys}}

    def aggregate_id(self) -> int:
        value = getattr(self, self.aggregate_key)
        assert isinstance(value, int)
        return value

    def actor_id(self) -> int | None:
        if self.actor_key is None:
            return None
        value = getattr(self, self.actor_key)
        return value if isinstance(value, int) else None


# --- conversations ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationCreated(DomainEvent):
    name = "conversation.created"
    bus_type = "conversation.created"
    bus_keys = ("conversation_id",)
    aggregate = "conversation"
    aggregate_key = "conversation_id"

    conversation_id: int
    contact_id: int
    channel_id: int
    channel_type: str
    team_id: int | None = None
    # "contact": the client wrote (routed to an operator); "send": we wrote first (an
    # integration's or a chain's message), and it waits for the client's answer unrouted.
    opened_by: str = "contact"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationAssigned(DomainEvent):
    name = "conversation.assigned"
    bus_type = "conversation.assigned"
    bus_keys = ("conversation_id", "assignee_id", "previous_assignee_id")
    aggregate = "conversation"
    aggregate_key = "conversation_id"
    actor_key = "by"

    conversation_id: int
    assignee_id: int
    previous_assignee_id: int | None = None
    reason: str = ""
    by: int | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationQueued(DomainEvent):
    """Back in the queue (nobody took it, or its operator left)."""

    name = "conversation.queued"
    bus_type = "conversation.updated"
    bus_keys = ("conversation_id", "previous_assignee_id")
    aggregate = "conversation"
    aggregate_key = "conversation_id"

    conversation_id: int
    previous_assignee_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationUnassigned(DomainEvent):
    """Sent back to the queue by hand (the queueing publishes the frame)."""

    name = "conversation.unassigned"
    aggregate = "conversation"
    aggregate_key = "conversation_id"
    actor_key = "by"

    conversation_id: int
    previous_assignee_id: int | None = None
    by: int | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationResponseMissed(DomainEvent):
    """The assignee missed the reply deadline; the timers move, escalate or keep it."""

    name = "conversation.response_missed"
    aggregate = "conversation"
    aggregate_key = "conversation_id"

    conversation_id: int
    missed_by: int | None = None
    response_target_seconds: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationStatusChanged(DomainEvent):
    name = "conversation.status_changed"
    bus_type = "conversation.updated"
    bus_keys = ("conversation_id",)
    aggregate = "conversation"
    aggregate_key = "conversation_id"
    actor_key = "by"

    conversation_id: int
    previous: str
    status: str
    by: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationResolved(DomainEvent):
    """Raised by every path that resolves (the status change publishes the frame)."""

    name = "conversation.resolved"
    aggregate = "conversation"
    aggregate_key = "conversation_id"
    actor_key = "by"

    conversation_id: int
    assignee_id: int | None = None
    channel_id: int | None = None
    by: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationUpdated(DomainEvent):
    """Someone changed an attribute of the conversation; `fields` names which (so far its
    team, on a transfer). Status and assignment have events of their own."""

    name = "conversation.updated"
    bus_type = "conversation.updated"
    bus_keys = ("conversation_id",)
    aggregate = "conversation"
    aggregate_key = "conversation_id"
    actor_key = "by"

    conversation_id: int
    fields: tuple[str, ...] = ()
    team_id: int | None = None
    previous_team_id: int | None = None
    by: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationLabelsChanged(DomainEvent):
    """Labels were put on or taken off the conversation (the consoles re-read its row)."""

    name = "conversation.labels_changed"
    bus_type = "conversation.updated"
    bus_keys = ("conversation_id",)
    aggregate = "conversation"
    aggregate_key = "conversation_id"
    actor_key = "by"

    conversation_id: int
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    by: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRoutingDeferred(DomainEvent):
    """The ingest opened a conversation but could not route it at once: every operator with
    room was being claimed. Routing takes it after the commit, waiting for the best of them.
    Not stored: should it be lost, the conversation waits queued for the drain."""

    name = "conversation.routing_deferred"
    durable = False
    aggregate = "conversation"
    aggregate_key = "conversation_id"

    conversation_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationRead(DomainEvent):
    name = "conversation.read"
    bus_type = "conversation.updated"
    bus_keys = ("conversation_id",)
    durable = False
    aggregate = "conversation"
    aggregate_key = "conversation_id"
    actor_key = "by"

    conversation_id: int
    by: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationOwnerNotified(DomainEvent):
    """The contact's owner could not take the conversation: they are told who did."""

    name = "conversation.owner_notified"
    bus_type = "conversation.owner_notified"
    bus_keys = ("conversation_id", "notify_operator_id")
    durable = False
    aggregate = "conversation"
    aggregate_key = "conversation_id"

    conversation_id: int
    notify_operator_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationQueueAlert(DomainEvent):
    name = "conversation.queue_alert"
    bus_type = "conversation.queue_alert"
    bus_keys = ("conversation_id", "team_id")
    aggregate = "conversation"
    aggregate_key = "conversation_id"

    conversation_id: int
    contact_id: int
    team_id: int | None = None
    queued_at: str | None = None  # ISO 8601


# --- messages ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageCreated(DomainEvent):
    name = "message.created"
    bus_type = "message.created"
    bus_keys = ("conversation_id", "message_id")
    aggregate = "message"
    aggregate_key = "message_id"
    actor_key = "operator_id"

    message_id: int
    conversation_id: int
    contact_id: int
    channel_id: int
    channel_type: str
    direction: str  # inbound | outbound | internal
    sender_type: str
    operator_id: int | None = None
    # How the touchpoint of this message is written (None: no touchpoint of its own).
    touch_kind: str | None = None
    chain: str | None = None
    step: str | None = None
    order_id: int | None = None
    rating: int | None = None
    answers_survey: int | None = None  # the survey id an inbound reply answers
    # A long text is sent as several messages; only the first is a touch of its own.
    first_part: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageUpdated(DomainEvent):
    name = "message.updated"
    bus_type = "message.updated"
    bus_keys = ("conversation_id", "message_id")
    durable = False
    aggregate = "message"
    aggregate_key = "message_id"

    message_id: int
    conversation_id: int
    change: str = ""  # edited | delivery_state
    state: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageDeliveryFailed(DomainEvent):
    name = "message.delivery_failed"
    aggregate = "message"
    aggregate_key = "message_id"

    message_id: int
    conversation_id: int
    contact_id: int
    operator_id: int | None = None
    channel_type: str | None = None
    reason: str | None = None
    code: str | None = None


# --- contacts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactCreated(DomainEvent):
    """A new client: the first message or widget session of someone unknown (stored by the
    SQL identity upsert), or a shop's order for someone never seen (app/chains)."""

    name = "contact.created"
    on_demand = True
    aggregate = "contact"
    aggregate_key = "contact_id"

    contact_id: int
    channel_id: int | None = None  # where they first appeared (None: not a channel)
    source: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactUpdated(DomainEvent):
    name = "contact.updated"
    aggregate = "contact"
    aggregate_key = "contact_id"
    actor_key = "by"

    contact_id: int
    fields: tuple[str, ...] = ()
    stage_from: str | None = None
    stage_to: str | None = None
    by: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactSessionsRevoked(DomainEvent):
    """The contact's widget sessions ended: every node closes their sockets (4401)."""

    name = "contact.sessions_revoked"
    bus_type = VISITOR_SESSIONS_REVOKED
    bus_keys = ("contact_id",)
    aggregate = "contact"
    aggregate_key = "contact_id"

    contact_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactLabelsChanged(DomainEvent):
    """Labels were put on or taken off the contact (names as they are now spelt)."""

    name = "contact.labels_changed"
    aggregate = "contact"
    aggregate_key = "contact_id"
    actor_key = "by"

    contact_id: int
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    by: int | None = None


# --- touchpoints ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TouchpointCreated(DomainEvent):
    """A touch in a client's history: stored by the touchpoint log's one write path, the SQL
    function chatcentre_record_touchpoint (app/touchpoints/sql.py), whoever calls it."""

    name = "touchpoint.created"
    on_demand = True
    aggregate = "touchpoint"
    aggregate_key = "touchpoint_id"

    touchpoint_id: int
    contact_id: int
    conversation_id: int | None = None
    message_id: int | None = None
    operator_id: int | None = None
    order_id: int | None = None
    channel: str
    direction: str
    kind: str


# --- surveys ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SurveyRequested(DomainEvent):
    name = "survey.requested"
    aggregate = "survey"
    aggregate_key = "survey_id"

    survey_id: int
    conversation_id: int
    message_id: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SurveyAnswered(DomainEvent):
    name = "survey.answered"
    aggregate = "survey"
    aggregate_key = "survey_id"

    survey_id: int
    conversation_id: int
    message_id: int | None = None
    rating: int | None = None
    reaction: str | None = None


# --- orders (chains) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderStatusChanged(DomainEvent):
    name = "order.status_changed"
    aggregate = "order"
    aggregate_key = "order_id"

    order_id: int
    external_id: str
    event_id: str | None = None  # the shop's id of the event (idempotency key)
    status: str
    previous: str | None = None
    step_outcome: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAlert(DomainEvent):
    """A chain needs a person: the order's owner is told (no owner, nobody to tell)."""

    name = "order.alert"
    bus_type = "order.alert"
    bus_keys = ("notify_operator_id", "order", "alert", "step")
    aggregate = "order"
    aggregate_key = "order_id"

    order_id: int
    order: str  # the order's external id, as the console shows it
    alert: str
    step: str | None = None
    notify_operator_id: int | None = None

    def bus(self) -> Bus | None:
        return None if self.notify_operator_id is None else DomainEvent.bus(self)


# --- operators --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorAvailabilityChanged(DomainEvent):
    """An operator's presence or capacity was changed by hand (PATCH)."""

    name = "operator.availability_changed"
    aggregate = "operator"
    aggregate_key = "operator_id"
    actor_key = "by"

    operator_id: int
    presence_from: str | None = None
    presence_to: str | None = None
    capacity_from: int | None = None
    capacity_to: int | None = None
    by: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorPresence(DomainEvent):
    name = "operator.presence"
    bus_type = "operator.presence"
    bus_keys = ("operator_id", "presence")
    durable = False
    aggregate = "operator"
    aggregate_key = "operator_id"

    operator_id: int
    presence: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorSessionsRevoked(DomainEvent):
    """The operator's sockets close on every node (logout, password, role, deactivation)."""

    name = "operator.sessions_revoked"
    bus_type = OPERATOR_SESSIONS_REVOKED
    bus_keys = ("operator_id",)
    aggregate = "operator"
    aggregate_key = "operator_id"

    operator_id: int


# --- transient wake-ups -----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CadenceDigest(DomainEvent):
    name = "cadence.digest"
    bus_type = "cadence.digest"
    bus_keys = ("notify_operator_id", "on", "due_today", "overdue")
    durable = False
    aggregate = "operator"
    aggregate_key = "notify_operator_id"

    notify_operator_id: int
    on: str
    due_today: int
    overdue: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LeadsDropped(DomainEvent):
    """A manager's leads dropped before the seventh touch on a day: a notice on their
    console (the list is GET /api/v1/analytics/dropped-leads)."""

    name = "leads.dropped"
    bus_type = "leads.dropped"
    bus_keys = ("notify_operator_id", "on", "count", "contact_ids")
    durable = False
    aggregate = "operator"
    aggregate_key = "notify_operator_id"

    notify_operator_id: int
    on: str
    count: int
    contact_ids: list[int]


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxQueued(DomainEvent):
    name = "outbox.queued"
    bus_type = "outbox.queued"
    bus_keys = ("message_id",)
    durable = False
    aggregate = "message"
    aggregate_key = "message_id"

    message_id: int


# The bus frame every node's channel cache listens for (app.channels.service): a channel
# changed or was deleted, so a node that keeps it drops it instead of serving it stale.
CHANNEL_CHANGED = "channel.changed"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelChanged(DomainEvent):
    """A channel's settings, credentials, team or state changed. Not stored: it only tells
    the nodes to read the channel again."""

    name = "channel.changed"
    bus_type = CHANNEL_CHANGED
    bus_keys = ("channel_id",)
    durable = False
    aggregate = "channel"
    aggregate_key = "channel_id"

    channel_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDeleted(DomainEvent):
    name = "channel.deleted"
    bus_type = CHANNEL_CHANGED
    bus_keys = ("channel_id",)
    aggregate = "channel"
    aggregate_key = "channel_id"
    actor_key = "by"

    channel_id: int
    channel_type: str
    by: int | None = None
