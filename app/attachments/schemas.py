from pydantic import BaseModel, Field


class AttachmentRead(BaseModel):
    """An uploaded file, and (the same shape) a file listed on a message: inbound media
    and outbound uploads alike."""

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
