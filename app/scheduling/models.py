from datetime import date

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class JobRun(Base):
    """Once-a-day jobs: the first node to insert (name, day) runs it; the others skip."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_on: Mapped[date] = mapped_column(Date, primary_key=True)
