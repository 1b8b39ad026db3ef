"""The events stored only while a webhook endpoint subscribes (`on_demand`) must be read by
nobody else: an automation trigger on one would never fire while no endpoint asks for it."""

from app.automation.engine import TRIGGER_OF_EVENT
from app.events.types import DomainEvent
from app.webhooks.events import SUBSCRIBABLE


def event_classes(cls: type[DomainEvent] = DomainEvent) -> list[type[DomainEvent]]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *event_classes(sub)]
    return found


def test_on_demand_events_are_subscribable_and_trigger_no_rule() -> None:
    on_demand = {cls.name for cls in event_classes() if cls.on_demand}
    assert on_demand == {"contact.created", "touchpoint.created"}
    assert on_demand <= set(SUBSCRIBABLE)
    assert not on_demand & set(TRIGGER_OF_EVENT)
