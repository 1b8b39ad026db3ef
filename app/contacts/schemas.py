from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import RequestModel

Stage = Literal["lead", "qualified", "customer", "lost"]


class ContactUpdate(RequestModel):
    name: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=32)
    stage: Stage | None = None
    category: str | None = Field(default=None, max_length=16, description="A category code")
    owner_id: int | None = None
    preferred_channel_id: int | None = None
    priority_level: int | None = Field(
        default=None, ge=1, le=5, description="1 (the most personal contact) .. 5; null: none"
    )
    automated_opt_out: bool | None = Field(
        default=None, description="true: no automated messages; false: allow them again"
    )


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    position: int
    cadence_days: int
    call_cadence_days: int | None
    message_cadence_days: int | None
    description: str | None


class CategoryWrite(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    position: int = Field(ge=0, le=1000)
    cadence_days: int = Field(ge=1, le=3650, description="A touch at least this often")
    call_cadence_days: int | None = Field(default=None, ge=1, le=3650)
    message_cadence_days: int | None = Field(
        default=None, ge=1, le=3650, description="An automated useful message this often"
    )
    description: str | None = Field(default=None, max_length=2000)


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
    email_verified: bool = Field(description="the email is vouched for (not just typed)")
    phone_verified: bool = Field(description="the phone is vouched for (not just typed)")
    owner_id: int | None
    stage: str
    category: str | None
    priority_level: int | None
    source: str | None
    preferred_channel_id: int | None
    created_at: datetime
    last_seen_at: datetime | None
    stage_changed_at: datetime | None
    converted_at: datetime | None
    conversion_touch: int | None
    automated_opt_out_at: datetime | None = Field(
        description="when the client opted out of automated messages; null: they get them"
    )
    labels: list[str] = Field(default_factory=list, description="Its label names, alphabetical")


class ContactDetail(ContactRead):
    identities: list[IdentityRead]


class ContactPage(BaseModel):
    items: list[ContactRead]
    next_cursor: str | None


class PriorityLevelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    level: int = Field(description="1 (the most personal contact) .. 5")
    name: str
    calls: int = Field(description="calls a manager owes each client of the level per period")
    meetings: int
    messages: int = Field(description="messages the manager sends, per period")
    period_days: int


class PriorityLevelUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    calls: int | None = Field(default=None, ge=0, le=1000)
    meetings: int | None = Field(default=None, ge=0, le=1000)
    messages: int | None = Field(default=None, ge=0, le=1000)
    period_days: int | None = Field(default=None, ge=1, le=366)
