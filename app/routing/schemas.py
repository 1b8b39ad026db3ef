from datetime import datetime

from pydantic import BaseModel, Field

from app.core.schemas import RequestModel
from app.operators.models import Presence
from app.routing.service import Strategy


class TeamRoutingUpdate(RequestModel):
    strategy: Strategy | None = None
    response_target_seconds: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)
    max_reassignments: int | None = Field(default=None, ge=0, le=100)
    queue_alert_seconds: int | None = Field(default=None, ge=1, le=30 * 24 * 3600)
    release_on_offline: bool | None = None
    lead_id: int | None = None
    member_ids: list[int] | None = Field(default=None, max_length=1000)
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA zone of the team's days (cadence, reports); null = the default",
    )


class TeamRoutingRead(BaseModel):
    id: int
    name: str
    strategy: Strategy
    response_target_seconds: int
    max_reassignments: int
    queue_alert_seconds: int
    release_on_offline: bool
    lead_id: int | None
    member_ids: list[int]
    timezone: str | None = Field(description="null: the deployment's default_timezone")


class PresenceUpdate(RequestModel):
    presence: Presence


class OperatorChannels(RequestModel):
    channel_ids: list[int] = Field(
        max_length=1000, description="Channels this operator serves; empty = all"
    )


class QueueItem(BaseModel):
    position: int
    conversation_id: int
    queued_at: datetime
    waiting_seconds: float
    category: str | None


class OperatorLoad(BaseModel):
    operator_id: int
    name: str
    presence: Presence
    open_conversations: int
    max_open_conversations: int
    base_size: int
    max_base_size: int
    last_assigned_at: datetime | None
