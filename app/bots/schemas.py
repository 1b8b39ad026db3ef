from datetime import datetime

from pydantic import BaseModel, Field

from app.core.schemas import RequestModel


class BotCreate(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=8, max_length=2000, description="where its events are POSTed")
    channel_ids: list[int] = Field(default=[], max_length=100)
    is_active: bool = True


class BotUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: str | None = Field(default=None, min_length=8, max_length=2000)
    channel_ids: list[int] | None = Field(default=None, max_length=100)
    is_active: bool | None = None


class BotRead(BaseModel):
    """Never its token or its endpoint's signing secret (shown once, by BotWithSecrets)."""

    id: int
    name: str
    url: str
    channel_ids: list[int]
    is_active: bool
    endpoint_id: int = Field(description="its webhook endpoint (deliveries, retries)")
    created_at: datetime


class BotWithSecrets(BotRead):
    access_token: str = Field(description="Authorization: Bearer <access_token>; shown once")
    secret: str = Field(description="verifies its deliveries (Standard Webhooks); shown once")


class BotToken(BaseModel):
    access_token: str


class BotMessage(RequestModel):
    text: str = Field(min_length=1)
    # A retry with the same id is the same message (stored once per bot).
    client_message_id: str | None = Field(default=None, min_length=1, max_length=100)


class HandoffRead(BaseModel):
    conversation_id: int
    status: str
    assignee_id: int | None
    handed_off: bool = Field(description="false: it was no longer with a bot (nothing done)")
