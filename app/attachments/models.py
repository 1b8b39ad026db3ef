from sqlalchemy import BigInteger, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin


class Attachment(TimestampMixin, Base):
    """A file an operator or an integration uploaded. The id is random (not a counter), and
    the bytes are kept under their SHA-256 in the storage: the client's file name is only
    shown, never used as a path."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    filename: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Who uploaded it: they may use and download it before any message carries it.
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id", ondelete="SET NULL"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    # A web-chat visitor's upload: only that visitor may put it on a message of theirs.
    contact_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("contacts.id", ondelete="CASCADE")
    )


class MessageAttachment(Base):
    """Which messages carry which uploaded files: whoever may see such a message's
    conversation may download the file."""

    __tablename__ = "message_attachments"
    __table_args__ = (Index("ix_message_attachments_attachment_id", "attachment_id"),)

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    attachment_id: Mapped[str] = mapped_column(
        ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger)
