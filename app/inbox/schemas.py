from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.attachments.schemas import AttachmentRead
from app.attachments.service import MAX_PER_MESSAGE, VisitorLinks
from app.channels.schemas import TemplateSend
from app.core.schemas import RequestModel
from app.inbox.models import ConversationStatus, DeliveryState, Direction, Message, SenderType


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    direction: Direction
    sender_type: SenderType
    operator_id: int | None
    kind: str
    text: str | None
    attachments: list[AttachmentRead]
    reply_to_id: int | None
    delivery_state: DeliveryState | None
    failure_reason: str | None
    created_at: datetime
    sent_at: datetime | None
    edited_at: datetime | None
    deleted_at: datetime | None = Field(
        default=None, description="The sender deleted it for everyone (text and files gone)"
    )
    private: bool = False
    sender_name: str | None = Field(
        default=None, description="Who wrote it, where a chat has several people (a group)"
    )
    contact_id: int | None = Field(
        default=None,
        description="The contact who wrote an inbound message: the conversation's, or another "
        "of the client's side (a colleague on CC answering a mail thread)",
    )
    location: dict[str, Any] | None = Field(
        default=None,
        description="kind location: latitude, longitude (and a venue's name, address)",
    )
    subject: str | None = Field(default=None, description="A mail's subject")
    original_text: str | None = Field(
        default=None,
        description="The whole text as it came, where `text` shows only the new part (a mail "
        "without its quoted history and signature)",
    )


class MessagePage(BaseModel):
    items: list[MessageRead]
    next_cursor: str | None = Field(description="Pass as after= for newer messages")
    prev_cursor: str | None = Field(description="Pass as before= for older messages")


AttachmentId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
_ATTACHMENT_IDS: list[AttachmentId] = Field(
    default_factory=list,
    max_length=MAX_PER_MESSAGE,
    description="Files from POST /api/v1/attachments, sent in this order; the text goes "
    "with the first as its caption where the channel allows",
)

# What an operator's reply and an integration's message may carry, described once.
_TEXT: str | None = Field(
    default=None,
    min_length=1,
    max_length=65536,
    description="Required unless template or attachment_ids",
)
_TEMPLATE: TemplateSend | None = Field(
    default=None,
    description="Channels with templates (WhatsApp): a registered template, "
    "needed outside the reply window",
)


class ReplyCreate(RequestModel):
    text: str | None = _TEXT
    private: bool = Field(default=False, description="A private note: never sent to the client")
    client_message_id: str | None = Field(
        default=None, max_length=100, description="Retrying with the same id sends once"
    )
    template: TemplateSend | None = _TEMPLATE
    attachment_ids: list[AttachmentId] = _ATTACHMENT_IDS

    @model_validator(mode="after")
    def _text_or_template(self) -> "ReplyCreate":
        _check_content(self.text, self.template, self.attachment_ids)
        if self.private and self.template is not None:
            raise ValueError("a private note cannot be a template")
        return self


def _check_content(text: str | None, template: object, attachment_ids: list[str]) -> None:
    if text is None and template is None and not attachment_ids:
        raise ValueError("give text, attachment_ids, or a template")
    if template is not None and attachment_ids:
        raise ValueError("a template cannot carry attachments")
    if len(set(attachment_ids)) != len(attachment_ids):
        raise ValueError("an attachment is listed twice")


class IntegrationMessageCreate(RequestModel):
    idempotency_key: str = Field(min_length=1, max_length=100)
    text: str | None = _TEXT
    conversation_id: int | None = None
    contact_id: int | None = None
    channel_id: int | None = None
    template: TemplateSend | None = _TEMPLATE
    attachment_ids: list[AttachmentId] = _ATTACHMENT_IDS

    @model_validator(mode="after")
    def _text_or_template(self) -> "IntegrationMessageCreate":
        _check_content(self.text, self.template, self.attachment_ids)
        return self


class ContactBrief(BaseModel):
    id: int
    name: str | None


class LastMessage(BaseModel):
    sender_type: SenderType
    preview: str | None = Field(description="The text's first 140 characters")
    created_at: datetime


class ConversationRead(BaseModel):
    id: int
    status: ConversationStatus
    channel_id: int
    channel_type: str
    contact: ContactBrief
    assignee_id: int | None
    team_id: int | None
    priority: int
    unread_count: int
    last_activity_at: datetime
    last_inbound_at: datetime | None
    first_response_at: datetime | None
    snoozed_until: datetime | None
    created_at: datetime
    slow_response: bool = Field(
        description="Missed the response target once (the lead was flagged); never cleared"
    )
    waiting_seconds: float | None = Field(
        description="Since the client's last message, while no one has answered it"
    )
    reply_window_expires_at: datetime | None = Field(
        default=None,
        description="WhatsApp: free-form replies allowed until then (24 h after the client's "
        "last message); null on channels without a window",
    )
    reply_window_open: bool | None = Field(
        default=None, description="WhatsApp: false = only a template can be sent; null = no window"
    )
    last_message: LastMessage | None = Field(
        default=None, description="The newest message (notes included), none before the first"
    )
    labels: list[str] = Field(default_factory=list, description="Its label names, alphabetical")


class ConversationPage(BaseModel):
    items: list[ConversationRead]
    next_cursor: str | None


class ConversationCounts(BaseModel):
    mine: int = Field(description="assigned to the caller, not resolved")
    queue: int = Field(description="unassigned, not resolved")
    all: int
    resolved: int
    snoozed: int
    mine_unread: int = Field(description="the caller's own with unread messages")
    bot: int = Field(default=0, description="with an agent bot (not waiting for a person)")


class AssignRequest(RequestModel):
    assignee_id: int | None = Field(description="null sends it back to the queue")
    team_id: int | None = None
    note: str | None = Field(default=None, max_length=2000)


class StatusRequest(RequestModel):
    status: ConversationStatus
    snoozed_until: datetime | None = None


# ---------------------------------------------------------------- the visitor's view
# A message as the web chat widget shows it: here, beside the operator's view, because both
# the widget's API and the realtime hub's visitor frames render it (realtime knows no plugin).


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
