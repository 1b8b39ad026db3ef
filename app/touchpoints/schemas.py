from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

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


class TouchpointPage(BaseModel):
    items: list[TouchpointRead]
    next_cursor: str | None
