"""Labels: installation-wide tags (a name, a colour) put on conversations and on contacts.

Low in the layers (below contacts and the inbox) so both can show a row's label names and
filter by one; the routes that label a conversation or a contact live with their owners,
which check that the caller sees the row first."""

from sqlalchemy import BigInteger, Column, ForeignKey, Identity, Index, String, Table, func
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TimestampMixin


class Label(TimestampMixin, Base):
    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    colour: Mapped[str] = mapped_column(String(7), nullable=False, server_default="#6b7280")
    description: Mapped[str | None] = mapped_column(String(500))

    # "VIP" and "vip" are one label: a filter or an automation names it either way.
    __table_args__ = (Index("uq_labels_name_lower", func.lower(name), unique=True),)


def _link(table: str, owner: str, owner_table: str) -> Table:
    return Table(
        table,
        Base.metadata,
        Column(
            owner,
            BigInteger,
            ForeignKey(f"{owner_table}.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        # The second key column is indexed for "which rows carry this label" (filters).
        Column(
            "label_id",
            BigInteger,
            ForeignKey("labels.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
    )


conversation_labels = _link("conversation_labels", "conversation_id", "conversations")
contact_labels = _link("contact_labels", "contact_id", "contacts")
