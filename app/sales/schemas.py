"""What the head of sales' reports answer. Shares are fractions (0..1), None when their
denominator is zero."""

from datetime import date

from pydantic import BaseModel, Field

from app.analytics.schemas import Range


class Counts(BaseModel):
    calls: int
    meetings: int
    messages: int


class ClientBehind(BaseModel):
    contact_id: int
    name: str | None
    owner_id: int
    level: int
    level_name: str
    owed: Counts
    done: Counts
    missing: Counts = Field(description="owed - done, where short")


class ManagerQuota(BaseModel):
    operator_id: int
    name: str | None
    clients: int = Field(description="live clients with a priority level")
    clients_behind: int
    owed: Counts
    met: Counts = Field(description="done, counted per client up to what the client is owed")
    done: Counts = Field(description="everything done, extra included")
    fulfilment: float | None = Field(description="met / owed, all three kinds together")


class Quotas(BaseModel):
    range: Range = Field(description="the week; each client's period ends with it")
    managers: list[ManagerQuota] = Field(description="furthest behind first")
    behind: list[ClientBehind] = Field(description="clients behind plan, by manager and level")


class WeekRange(BaseModel):
    week: date = Field(description="the week's Monday, in `range.timezone`")
    range: Range
