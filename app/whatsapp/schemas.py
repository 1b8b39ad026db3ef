from typing import Annotated

from pydantic import BaseModel, Field

from app.core.schemas import RequestModel

TemplateParameter = Annotated[str, Field(max_length=1024)]


class TemplateSpec(RequestModel):
    """An approved template registered on a channel account (approval happens at Meta)."""

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(min_length=2, max_length=16, description="e.g. en_US, pt_BR")
    parameters: int = Field(default=0, ge=0, le=50, description="Body {{n}} placeholders")


class TemplateList(RequestModel):
    templates: list[TemplateSpec]


class TemplateSend(RequestModel):
    """Send a registered template instead of free text (needed outside the 24-hour window)."""

    name: str = Field(min_length=1, max_length=512)
    language: str = Field(min_length=2, max_length=16)
    parameters: list[TemplateParameter] = Field(default_factory=list, max_length=50)


class WebhookResult(BaseModel):
    messages: int = Field(description="New messages stored")
    duplicates: int = Field(description="Messages seen before (Meta retries)")
    statuses: int = Field(description="Delivery states moved forward")
    edits: int = Field(default=0, description="Stored messages edited or deleted by the client")
