from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import RequestModel

TemplateParameter = Annotated[str, Field(max_length=1024)]


class TemplateSpec(RequestModel):
    """An approved template registered on a channel account (approval happens at the
    provider; channels whose capabilities include templates)."""

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(min_length=2, max_length=16, description="e.g. en_US, pt_BR")
    parameters: int = Field(default=0, ge=0, le=50, description="Body {{n}} placeholders")


class TemplateSend(RequestModel):
    """Send a registered template instead of free text (needed outside the 24-hour window)."""

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=16)
    parameters: list[TemplateParameter] = Field(default_factory=list, max_length=50)


class ChannelCreate(RequestModel):
    type: str = Field(min_length=1, max_length=24, description="One of GET /api/v1/channel-types")
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
    type: str
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


class CapabilitiesRead(BaseModel):
    media: bool
    edits: bool
    templates: bool
    typing: bool
    read_receipts: bool
    reply_window: bool
    initiates: bool
    max_text_length: int | None


class ChannelPluginRead(BaseModel):
    type: str
    label: str
    contact_noun: str = Field(description="What the console calls a person on it")
    icon: str = Field(description="URL of its icon")
    capabilities: CapabilitiesRead
