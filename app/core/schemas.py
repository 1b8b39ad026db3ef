"""The base of request bodies: a field the API does not know is a 422 naming it, never
silently dropped (a dropped `attachments` once sent a reply out as plain text)."""

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
