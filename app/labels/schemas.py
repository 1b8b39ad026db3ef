from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.schemas import RequestModel

# Letters (any script), digits, spaces, "-", "_", "."; starts with a letter or digit. No
# commas, so a name is one value wherever lists of them are written.
LabelName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^\w[\w .\-]*$"),
]
Colour = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]


class LabelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    colour: str = Field(description="#RRGGBB")
    description: str | None
    created_at: datetime


class LabelCreate(RequestModel):
    name: LabelName = Field(description="Unique ignoring case")
    colour: Colour = "#6b7280"
    description: str | None = Field(default=None, max_length=500)


class LabelUpdate(RequestModel):
    name: LabelName | None = None
    colour: Colour | None = None
    description: str | None = Field(default=None, max_length=500)


class LabelList(RequestModel):
    labels: list[LabelName] = Field(
        max_length=50, description="The label names the row carries, replacing what it had"
    )


class LabelNames(BaseModel):
    labels: list[str] = Field(description="The label names, in alphabetical order")
