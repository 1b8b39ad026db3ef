from pydantic import BaseModel, Field, model_validator

from app.attachments.service import MAX_PER_MESSAGE
from app.core.schemas import RequestModel

# The widget's message shape lives with the inbox's (the realtime hub renders it too).
from app.inbox.schemas import WidgetMessageRead, to_widget_message

__all__ = [
    "SessionCreate",
    "SessionRead",
    "WidgetMessageCreate",
    "WidgetMessagePage",
    "WidgetMessagePosted",
    "WidgetMessageRead",
    "to_widget_message",
]


class SessionCreate(RequestModel):
    identifier: str | None = Field(
        default=None, max_length=200, description="The site's own user id, for signed-in users"
    )
    identifier_hash: str | None = Field(
        default=None, max_length=128, description="HMAC-SHA256(identity_secret, identifier) hex"
    )
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)


class SessionRead(BaseModel):
    visitor_token: str
    conversation_id: int | None = Field(description="The open conversation, once there is one")
    contact_id: int


class WidgetMessageCreate(RequestModel):
    text: str = Field(default="", max_length=65536, description="Required unless attachment_ids")
    client_message_id: str | None = Field(
        default=None, max_length=100, description="Retrying a POST with the same id stores once"
    )
    attachment_ids: list[str] = Field(
        default_factory=list,
        max_length=MAX_PER_MESSAGE,
        description="The visitor's own files from POST .../attachments, in this order",
    )

    @model_validator(mode="after")
    def _text_or_files(self) -> "WidgetMessageCreate":
        if not self.text and not self.attachment_ids:
            raise ValueError("give text or attachment_ids")
        return self


class WidgetMessagePosted(BaseModel):
    message: WidgetMessageRead
    duplicate: bool = Field(description="True when this client_message_id was stored before")


class WidgetMessagePage(BaseModel):
    items: list[WidgetMessageRead]
    next_cursor: str | None


class WidgetTexts(RequestModel):
    """A channel's own widget texts in one language; what is left out shows the widget's
    translated default (widget.js)."""

    title: str | None = Field(default=None, min_length=1, max_length=80)
    subtitle: str | None = Field(default=None, min_length=1, max_length=160)
    greeting: str | None = Field(default=None, min_length=1, max_length=500)
    placeholder: str | None = Field(default=None, min_length=1, max_length=80)
    offline: str | None = Field(default=None, min_length=1, max_length=160)


class WidgetConfigRead(BaseModel):
    """What the widget shows, in the visitor's language: the channel's texts and the
    widget's message catalogue (msgid -> text or plural forms)."""

    lang: str
    texts: WidgetTexts
    max_upload_bytes: int = Field(
        description="Largest file POST .../attachments takes: the widget refuses bigger ones "
        "before sending (a body far over it is cut off before CORS headers are added)"
    )
    messages: dict[str, str | list[str]]
    plural: dict[str, int]
