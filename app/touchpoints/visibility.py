"""Who sees a touchpoint, registered with the one builder (app/operators/visibility.py) when
this module is imported (app/models.py does, in every process and in the tests): the
touches of a conversation go with the conversation, the others with their contact."""

from sqlalchemy import ColumnElement, and_, exists, or_

from app.contacts.models import Contact
from app.inbox.models import Conversation
from app.operators import visibility
from app.operators.service import Principal
from app.touchpoints.models import Touchpoint


def _touchpoints(p: Principal) -> ColumnElement[bool]:
    in_conversation = exists().where(
        Conversation.id == Touchpoint.conversation_id, visibility.clause(p, Conversation)
    )
    of_contact = exists().where(Contact.id == Touchpoint.contact_id, visibility.clause(p, Contact))
    return or_(
        and_(Touchpoint.conversation_id.is_not(None), in_conversation),
        and_(Touchpoint.conversation_id.is_(None), of_contact),
    )


visibility.register(
    Touchpoint,
    _touchpoints,
    refusal=("not_your_contact", "This touch is of another team's or manager's client"),
)
