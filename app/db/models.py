"""Imports every domain's models so metadata is complete (Alembic, tests)."""

from app.channels.models import ChannelAccount
from app.db.base import Base
from app.delivery.models import OutboxItem
from app.inbox.models import Contact, ContactIdentity, Conversation, Message
from app.operators.models import ApiKey, Operator, Team, team_members
from app.touchpoints.models import Touchpoint

__all__ = [
    "ApiKey",
    "Base",
    "ChannelAccount",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "Message",
    "Operator",
    "OutboxItem",
    "Team",
    "Touchpoint",
    "team_members",
]
