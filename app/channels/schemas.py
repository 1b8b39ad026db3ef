from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.channels.models import ChannelType
from app.core.schemas import RequestModel


class ChannelCreate(RequestModel):
    type: ChannelType
    name: str = Field(min_length=1, max_length=200)
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="webchat: allowed_origins (list of origins, empty = any); "
        "telegram: mode (webhook | polling), api_server (Bot API base URL)",
    )
    credentials: dict[str, str] = Field(
        default_factory=dict, description="Write-only: never returned"
    )
    team_id: int | None = None


class ChannelUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    settings: dict[str, Any] | None = Field(
        default=None, description="Merged into the current settings; a key set to null is removed"
    )
    credentials: dict[str, str] | None = Field(default=None, description="Write-only")
    team_id: int | None = None
    is_active: bool | None = None


class ChannelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: ChannelType
    name: str
    public_key: str = Field(description="webchat: the widget key")
    settings: dict[str, Any]
    credential_names: list[str] = Field(description="Which credentials are set (not values)")
    team_id: int | None
    is_active: bool
    created_at: datetime


class ChannelCreated(ChannelRead):
    generated_credentials: dict[str, str] = Field(
        default_factory=dict,
        description="Credentials generated for you (webchat identity_secret): shown once",
    )
