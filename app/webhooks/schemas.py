from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import RequestModel
from app.webhooks.events import EventName
from app.webhooks.models import DeliveryStatus


class WebhookEventRead(BaseModel):
    """An event an endpoint can subscribe to (app.webhooks.events.EventName)."""

    name: EventName


class WebhookCreate(RequestModel):
    url: str = Field(min_length=8, max_length=2000)
    events: list[EventName] = Field(min_length=1)
    description: str = Field(default="", max_length=200)
    is_active: bool = True


class WebhookUpdate(RequestModel):
    url: str | None = Field(default=None, min_length=8, max_length=2000)
    events: list[EventName] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=200)
    is_active: bool | None = None


class WebhookRead(BaseModel):
    """Never the secret (it is shown once, by WebhookWithSecret)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    description: str
    events: list[str]
    is_active: bool
    # "failing": disabled after a day of failures (the console shows a notice).
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime


class WebhookWithSecret(WebhookRead):
    secret: str


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_id: int | None
    message_id: str
    event_type: str
    conversation_id: int | None
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_attempt_at: datetime | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
