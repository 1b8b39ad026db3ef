from pydantic import BaseModel, Field

from app.channels.schemas import TemplateSend, TemplateSpec
from app.core.schemas import RequestModel

__all__ = ["TemplateList", "TemplateSend", "TemplateSpec", "WebhookResult"]


class TemplateList(RequestModel):
    templates: list[TemplateSpec]


class WebhookResult(BaseModel):
    messages: int = Field(description="New messages stored")
    duplicates: int = Field(description="Messages seen before (Meta retries)")
    statuses: int = Field(description="Delivery states moved forward")
    edits: int = Field(default=0, description="Stored messages edited or deleted by the client")
