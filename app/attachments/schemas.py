from pydantic import BaseModel, ConfigDict, Field


class AttachmentRead(BaseModel):
    """An uploaded file, and (the same shape) a file listed on a message: inbound media
    and outbound uploads alike. Inbound media also keeps the provider's own fields
    (Telegram file_id, WhatsApp media_id, ...) next to these."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(description="The upload's id; null for inbound media")
    type: str = Field(description="image, document, voice, video, ... (what the channel calls it)")
    filename: str | None
    content_type: str | None = Field(description="Judged from the bytes for uploads")
    size: int | None = Field(description="Bytes, when known")
    url: str | None = Field(
        default=None,
        description="Where to download it: the API (operator token or API key), or for a "
        "web-chat visitor a signed link that expires",
    )
