from sqlalchemy import BigInteger, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class OperatorLoadCount(Base):
    """An operator's load, kept current by triggers (app/routing/sql/count_*.sql) so a
    routing reads two integers instead of counting every candidate's conversations and
    clients. Its own table, not columns of operators: a routing's claim locks the operator's
    row, and a transfer's trigger may touch two counts, so the two locks never meet."""

    __tablename__ = "operator_load_counts"

    operator_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True
    )
    # Conversations assigned to them and not closed (inbox rules' not_closed).
    open_conversations: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Clients they own that count in their live base (chatcentre_in_live_base).
    live_base: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
