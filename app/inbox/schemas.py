from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.inbox.models import ConversationStatus, DeliveryState, Direction, SenderType
from app.whatsapp.schemas import TemplateSend


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: int
    direction: Direction
    sender_type: SenderType
    operator_id: int | None
    kind: str
    text: str | None
    attachments: list[dict[str, Any]]
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
    location: dict[str, Any] | None = Field(
        default=None,
        description="kind location: latitude, longitude (and a venue's name, address)",
    )


class MessagePage(BaseModel):
    items: list[MessageRead]
    next_cursor: str | None = Field(description="Pass as after= for newer messages")
    prev_cursor: str | None = Field(description="Pass as before= for older messages")


class ReplyCreate(BaseModel):
    text: str | None = Field(
        default=None, min_length=1, max_length=65536, description="Required unless template"
    )
    private: bool = Field(default=False, description="A private note: never sent to the client")
    client_message_id: str | None = Field(
        default=None, max_length=100, description="Retrying with the same id sends once"
    )
    template: TemplateSend | None = Field(
        default=None, description="WhatsApp: send a registered template (outside the window)"
    )

    @model_validator(mode="after")
    def _text_or_template(self) -> "ReplyCreate":
        if self.text is None and self.template is None:
            raise ValueError("give text, or a template")
        if self.private and self.template is not None:
            raise ValueError("a private note cannot be a template")
        return self


class IntegrationMessageCreate(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=100)
    text: str | None = Field(
        default=None, min_length=1, max_length=65536, description="Required unless template"
    )
    conversation_id: int | None = None
    contact_id: int | None = None
    channel_id: int | None = None
    template: TemplateSend | None = Field(
        default=None, description="WhatsApp: send a registered template (outside the window)"
    )

    @model_validator(mode="after")
    def _text_or_template(self) -> "IntegrationMessageCreate":
        if self.text is None and self.template is None:
            raise ValueError("give text, or a template")
        return self


class ContactBrief(BaseModel):
    id: int
    name: str | None


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


class ConversationPage(BaseModel):
    items: list[ConversationRead]
    next_cursor: str | None


class AssignRequest(BaseModel):
    assignee_id: int | None = Field(description="null sends it back to the queue")
    team_id: int | None = None
    note: str | None = Field(default=None, max_length=2000)


class StatusRequest(BaseModel):
    status: ConversationStatus
    snoozed_until: datetime | None = None
