"""app/handlers.py: the one place that connects events to their handlers."""

from app import handlers
from app.events.dispatch import handlers_of
from app.events.types import ConversationResolved, MessageCreated, OperatorAvailabilityChanged


def test_install_is_idempotent_and_keeps_the_order() -> None:
    handlers.install()
    first = handlers_of(MessageCreated), handlers_of(ConversationResolved)
    handlers.install()
    assert (handlers_of(MessageCreated), handlers_of(ConversationResolved)) == first
    # A survey's answer first (as the ingest recorded it before the redesign), then a
    # client's "stop" to automated messages; the touch is written before the outbox row; the
    # drain before the survey's message; the out-of-office reply after all that.
    assert handlers_of(MessageCreated) == [
        ("surveys.record_answer", "tx"),
        ("sales.record_opt_out", "tx"),
        ("touchpoints.record_message", "tx"),
        ("delivery.enqueue_outbound", "tx"),
        ("business_hours.out_of_office", "tx"),
    ]
    assert handlers_of(ConversationResolved) == [
        ("routing.drain_assignee", "tx"),
        ("surveys.request_csat", "tx"),
    ]
    assert handlers_of(OperatorAvailabilityChanged) == [
        ("routing.after_availability_change", "after_commit")
    ]
