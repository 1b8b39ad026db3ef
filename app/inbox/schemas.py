from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.inbox.models import ConversationStatus, DeliveryState, Direction, SenderType

MAX_TEXT = 4096  # the configured limit (max_message_chars) is checked in the service


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
    private: bool = False


class MessagePage(BaseModel):
    items: list[MessageRead]
    next_cursor: str | None = Field(description="Pass as after= for newer messages")
    prev_cursor: str | None = Field(description="Pass as before= for older messages")


class ReplyCreate(BaseModel):
    text: str = Field(min_length=1, max_length=65536)
    private: bool = Field(default=False, description="A private note: never sent to the client")
    client_message_id: str | None = Field(
        default=None, max_length=100, description="Retrying with the same id sends once"
    )


class IntegrationMessageCreate(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=65536)
    conversation_id: int | None = None
    contact_id: int | None = None
    channel_id: int | None = None


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
    waiting_seconds: float | None = Field(
        description="Since the client's last message, while no one has answered it"
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


class IdentityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel_account_id: int
    external_id: str
    username: str | None
    display_name: str | None
    reachable: bool
    last_inbound_at: datetime | None


class ContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str | None
    email: str | None
    phone: str | None
    owner_id: int | None
    stage: str
    category: str | None
    source: str | None
    created_at: datetime
    last_seen_at: datetime | None


class ContactDetail(ContactRead):
    identities: list[IdentityRead]


class ContactPage(BaseModel):
    items: list[ContactRead]
    next_cursor: str | None
