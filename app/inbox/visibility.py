"""The visibility rules the inbox owns: conversations, and the contacts and channels an
operator sees through them. Registered with the one builder (app/operators/visibility.py)
when this module is imported; app/models.py imports it in every process and in the tests.

The conversation rule itself is written once there, as Python and as SQL."""

from sqlalchemy import ColumnElement, exists, or_

from app.channels.models import ChannelAccount
from app.contacts.models import Contact
from app.inbox.models import Conversation
from app.operators import visibility
from app.operators.service import Principal

# The Python twin, under the name the inbox's callers use.
operator_sees = visibility.operator_sees


def _conversations(p: Principal) -> ColumnElement[bool]:
    return visibility.assigned_or_shared(p, Conversation.assignee_id, Conversation.team_id)


def _contacts(p: Principal) -> ColumnElement[bool]:
    seen_in = exists().where(Conversation.contact_id == Contact.id, _conversations(p))
    return or_(visibility.owned_by(p, Contact.owner_id), seen_in)


def _channels(p: Principal) -> ColumnElement[bool]:
    # Also another team's channel of a conversation handed to them: they answer in it.
    works_in = exists().where(
        Conversation.channel_account_id == ChannelAccount.id, _conversations(p)
    )
    return or_(visibility.shared_with(p, ChannelAccount.team_id), works_in)


visibility.register(
    Conversation,
    _conversations,
    refusal=(
        "not_your_conversation",
        "This conversation is assigned to someone else or waits for another team",
    ),
)
visibility.register(
    Contact,
    _contacts,
    refusal=("not_your_contact", "This client is another team's or manager's"),
)
visibility.register(
    ChannelAccount,
    _channels,
    refusal=("not_your_team", "This channel belongs to another team"),
    name="Channel",
)


def can_see(principal: Principal, conversation: Conversation) -> bool:
    return operator_sees(
        principal.sees_everything,
        principal.operator_id,
        principal.team_ids,
        conversation.assignee_id,
        conversation.team_id,
    )


def visible_to(principal: Principal) -> list[ColumnElement[bool]]:
    """The conversations `principal` sees, as WHERE clauses on Conversation."""
    return visibility.where(principal, Conversation)
