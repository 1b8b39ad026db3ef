"""The conversation rules (app/inbox/rules.py) are what the schema says too."""

from app.inbox import rules
from app.inbox.models import Conversation


def test_the_active_conversation_indexes_use_the_rule() -> None:
    """The partial indexes' predicate is frozen in a migration; the rule must say the same
    text, or the planner cannot match the queries written from it to the index."""
    indexes = {i.name: i for i in Conversation.__table__.indexes}
    unique = indexes["uq_conversations_active_contact_channel"]
    assert str(unique.dialect_options["postgresql"]["where"]) == rules.NOT_CLOSED_SQL
    queue = indexes["ix_conversations_queue"]
    assert rules.NOT_CLOSED_SQL in str(queue.dialect_options["postgresql"]["where"])
