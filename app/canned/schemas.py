from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from app.canned.models import CannedScope
from app.core.schemas import RequestModel

# What follows "/" in the composer: letters (any script), digits, "-", "_", ".".
ShortCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[\w.\-]+$"),
]
Content = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class CannedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    scope: CannedScope
    owner_id: int | None = Field(description="personal: the operator it belongs to")
    team_id: int | None = Field(description="team: the team whose members use it")
    short_code: str
    content: str = Field(description="With its {{variables}} as written")
    created_at: datetime
    updated_at: datetime


class CannedCreate(RequestModel):
    scope: CannedScope = CannedScope.personal
    team_id: int | None = Field(default=None, description="Required for scope team")
    short_code: ShortCode
    content: Content

    @model_validator(mode="after")
    def _team_for_team_scope(self) -> "CannedCreate":
        if (self.scope == CannedScope.team) != (self.team_id is not None):
            raise ValueError("team_id is given for scope team, and only then")
        return self


class CannedUpdate(RequestModel):
    short_code: ShortCode | None = None
    content: Content | None = None


class RenderRequest(RequestModel):
    conversation_id: int


class Rendered(BaseModel):
    text: str


class VariableRead(BaseModel):
    name: str
    description: str
