from datetime import datetime

from pydantic import BaseModel, Field

from app.attachments.schemas import AttachmentRead
from app.attachments.service import VisitorLinks
from app.core.schemas import RequestModel
from app.inbox.models import Direction, Message, SenderType


class SessionCreate(RequestModel):
    identifier: str | None = Field(
        default=None, max_length=200, description="The site's own user id, for signed-in users"
    )
    identifier_hash: str | None = Field(
        default=None, max_length=128, description="HMAC-SHA256(identity_secret, identifier) hex"
    )
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)


class SessionRead(BaseModel):
    visitor_token: str
    conversation_id: int | None = Field(description="The open conversation, once there is one")
    contact_id: int


class WidgetMessageCreate(RequestModel):
    text: str = Field(min_length=1, max_length=65536)
    client_message_id: str | None = Field(
        default=None, max_length=100, description="Retrying a POST with the same id stores once"
    )


class WidgetMessageRead(BaseModel):
    id: int
    conversation_id: int
    direction: Direction
    sender_type: SenderType
    text: str | None
    attachments: list[AttachmentRead] = Field(
        description="Files sent to the visitor, each with a signed link that expires"
    )
    created_at: datetime
    sent_at: datetime | None


class WidgetMessagePosted(BaseModel):
    message: WidgetMessageRead
    duplicate: bool = Field(description="True when this client_message_id was stored before")


class WidgetMessagePage(BaseModel):
    items: list[WidgetMessageRead]
    next_cursor: str | None


def to_widget_message(m: Message, links: VisitorLinks) -> WidgetMessageRead:
    return WidgetMessageRead(
        id=m.id,
        conversation_id=m.conversation_id,
        direction=m.direction,
        sender_type=m.sender_type,
        text=m.text,
        attachments=[links.read(a) for a in m.attachments],
        created_at=m.created_at,
        sent_at=m.sent_at,
    )
