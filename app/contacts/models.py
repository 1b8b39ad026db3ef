from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class Category(Base):
    """A client category and its cadence (DOMAIN.md: A-D by default, editable)."""

    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)  # queue and report order; lower first
    cadence_days: Mapped[int] = mapped_column(Integer)  # a touch at least this often
    call_cadence_days: Mapped[int | None] = mapped_column(Integer)  # a call this often, if set
    description: Mapped[str | None] = mapped_column(Text)
