"""Who reacts to what: every domain event handler, connected in one place.

A service raises a fact (app/events/types.py) and knows nothing of the reactions; this
file is the only one that ties a domain's event to another domain's side effect. The
handlers of one event run in the order listed here, inside the transaction that raised it
("tx"), or after it committed ("after_commit"). install() is idempotent: the app, the
worker and the CLI each call it at start."""

from app.bots import service as bots
from app.business_hours import replies as business_hours
from app.delivery import handlers as delivery
from app.events.dispatch import on
from app.events.types import (
    ChannelDeleted,
    ContactUpdated,
    ConversationCreated,
    ConversationQueueAlert,
    ConversationResolved,
    ConversationResponseMissed,
    ConversationRoutingDeferred,
    ConversationStatusChanged,
    ConversationUnassigned,
    MessageCreated,
    MessageDeliveryFailed,
    OperatorAvailabilityChanged,
)
from app.routing import handlers as routing
from app.sales import handlers as sales
from app.surveys import handlers as surveys
from app.touchpoints import handlers as touchpoints
from app.webhooks import service as webhooks


def install() -> None:
    # A new conversation (the client wrote) is routed by the ingest's own statement when an
    # operator's row can be claimed at once; when every operator with room is being
    # claimed, it goes to one or stays in the queue in a short transaction of its own after
    # the ingest's commit, which may wait for a row without holding the client's message.
    on(
        ConversationRoutingDeferred,
        routing.route_new_conversation,
        name="routing.route_new",
        phase="after_commit",
    )
    # The channel's greeting to a conversation the client opened (once).
    on(ConversationCreated, business_hours.greet, name="business_hours.greet")

    # A client's rating answers the survey waiting for it.
    on(MessageCreated, surveys.record_answer, name="surveys.record_answer")
    # A client's "stop" opts them out of automated messages (the useful messages on cadence).
    on(MessageCreated, sales.record_opt_out, name="sales.record_opt_out")
    # Outgoing messages: written to the outbox, and a touch in the client's history.
    on(MessageCreated, touchpoints.record_message, name="touchpoints.record_message")
    on(MessageCreated, delivery.enqueue_outbound, name="delivery.enqueue_outbound")
    # A client who writes while the team is closed: one out-of-office reply per off-hours
    # period (app/business_hours/replies.py).
    on(MessageCreated, business_hours.out_of_office, name="business_hours.out_of_office")
    on(MessageDeliveryFailed, touchpoints.record_delivery_failure, name="touchpoints.failure")

    # Assignment history.
    # (An assignment's touch is recorded by chatcentre_assign_conversation, with the row.)
    on(ConversationUnassigned, touchpoints.record_unassignment, name="touchpoints.unassignment")
    on(ConversationResponseMissed, touchpoints.record_missed_response, name="touchpoints.missed")
    on(ConversationQueueAlert, touchpoints.record_queue_alert, name="touchpoints.queue_alert")

    # Status: history, and on resolving (by any path) the assignee's next one and the CSAT.
    on(ConversationStatusChanged, touchpoints.record_status_change, name="touchpoints.status")
    on(ConversationResolved, routing.drain_assignee, name="routing.drain_assignee")
    on(ConversationResolved, surveys.request_csat, name="surveys.request_csat")

    # Operators: a hand-set presence or capacity hands out or releases conversations.
    on(
        OperatorAvailabilityChanged,
        routing.after_availability_change,
        name="routing.after_availability_change",
        phase="after_commit",
    )

    # Channels: nothing left in a deleted channel's outbox is sent.
    on(ChannelDeleted, delivery.cancel_channel_outbox, name="delivery.cancel_channel")

    # An agent bot's endpoint gets the events of its own conversations only.
    webhooks.register_scope(bots.KIND, bots.endpoint_scope)

    # Contacts: a stage change (and a conversion) is a touch in the client's history.
    on(ContactUpdated, touchpoints.record_stage_change, name="touchpoints.stage_change")
