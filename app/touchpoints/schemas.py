from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import RequestModel
from app.touchpoints.models import Reaction, TouchKind


class TouchpointRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    contact_id: int
    conversation_id: int | None
    message_id: int | None
    operator_id: int | None
    order_id: int | None
    channel: str
    direction: str
    kind: TouchKind
    chain: str | None
    step: str | None
    reaction: Reaction
    recurrence: str | None
    attention: str | None
    meta: dict[str, Any]
    preview: str | None = Field(
        default=None, description="The message's first 140 characters (a touch with a message)"
    )


class TouchpointPage(BaseModel):
    items: list[TouchpointRead]
    next_cursor: str | None


# Touches a person logs by hand or an integration posts (what happened elsewhere).
LoggableKind = Literal["call", "meeting", "email", "note", "notification", "survey", "message"]


class TouchpointCreate(RequestModel):
    contact_id: int
    kind: LoggableKind
    channel: str = Field(default="phone", min_length=1, max_length=32)
    direction: Literal["inbound", "outbound", "internal"] = "outbound"
    occurred_at: datetime | None = Field(default=None, description="Default: now")
    conversation_id: int | None = None
    operator_id: int | None = Field(default=None, description="Default: the caller")
    order_id: int | None = None
    chain: str | None = Field(default=None, max_length=64)
    step: str | None = Field(default=None, max_length=64)
    reaction: Reaction = Reaction.unknown
    duration_seconds: int | None = Field(
        default=None, ge=0, le=7 * 24 * 3600, description="Sets the attention span"
    )
    note: str | None = Field(default=None, max_length=4000)


class ReactionUpdate(RequestModel):
    reaction: Reaction


# ---------------------------------------------------------------- cadence


class DueTouch(BaseModel):
    contact_id: int
    name: str | None
    category: str
    what: Literal["touch", "call"]
    last_at: datetime | None
    due_on: date
    days_overdue: int


class CadenceReport(BaseModel):
    operator_id: int
    on: date
    timezone: str = Field(description="IANA zone the days are read in")
    due_today: list[DueTouch]
    overdue: list[DueTouch]
