from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import RequestModel
from app.operators.models import Presence, Role


class LoginRequest(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class OperatorCreate(RequestModel):
    email: str = Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: str = Field(min_length=1, max_length=200)
    # Length and strength: security.check_password_policy (422 weak_password).
    password: str = Field(max_length=1024)
    role: Role = Role.operator
    max_open_conversations: int = Field(default=10, ge=0, le=10_000)
    max_base_size: int = Field(default=500, ge=0, le=1_000_000)


class OperatorUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    password: str | None = Field(default=None, max_length=1024)
    role: Role | None = None
    is_active: bool | None = None
    presence: Presence | None = None
    max_open_conversations: int | None = Field(default=None, ge=0, le=10_000)
    max_base_size: int | None = Field(default=None, ge=0, le=1_000_000)


# The console's languages (app/console/i18n.py LANGUAGES; a test keeps the two in step).
ConsoleLanguage = Literal["en", "ru"]


class MeUpdate(RequestModel):
    """What operators change about themselves: the console's language (null: the browser's)."""

    language: ConsoleLanguage | None


class OperatorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: Role
    is_active: bool
    presence: Presence
    max_open_conversations: int
    max_base_size: int
    language: ConsoleLanguage | None = None
    created_at: datetime


class TeamCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    member_ids: list[int] = Field(default_factory=list, max_length=1000)


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    member_ids: list[int] = Field(default_factory=list)


class ApiKeyCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, max_length=50)


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="Shown once; only a hash is stored")


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_kind: str
    actor_id: int | None
    action: str
    target_type: str
    target_id: int | None
    ip: str | None
    details: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    next_cursor: int | None = Field(description="Pass as `before` for older entries")
