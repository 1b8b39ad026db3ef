from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from app.inbox.models import Direction, SenderType
from app.inbox.schemas import ContactBrief, ConversationRead


class SearchType(StrEnum):
    contacts = "contacts"
    conversations = "conversations"
    messages = "messages"


class ContactHit(BaseModel):
    id: int
    name: str | None
    email: str | None
    phone: str | None
    conversation_id: int | None = Field(
        description="The contact's latest conversation the caller sees, if any"
    )


class MessageHit(BaseModel):
    id: int
    conversation_id: int
    contact: ContactBrief
    direction: Direction
    sender_type: SenderType
    created_at: datetime
    snippet_html: str = Field(
        description="The text around the match, HTML-escaped, matches in <mark> elements"
    )


class ContactGroup(BaseModel):
    items: list[ContactHit]
    next_cursor: str | None


class ConversationGroup(BaseModel):
    items: list[ConversationRead]
    next_cursor: str | None


class MessageGroup(BaseModel):
    items: list[MessageHit]
    next_cursor: str | None


class SearchResults(BaseModel):
    """One group per type; only the asked one when `type` is given."""

    contacts: ContactGroup | None = None
    conversations: ConversationGroup | None = None
    messages: MessageGroup | None = None
