"""What the sales analytics answer. Shares and rates are plain fractions (0..1); they are
None when their denominator is zero. Durations are seconds."""

from datetime import date, datetime

from pydantic import BaseModel, Field


class Range(BaseModel):
    start: datetime = Field(description="from, inclusive")
    end: datetime = Field(description="to, exclusive")
    timezone: str = Field(description="IANA zone of the report's days and of a from/to without one")


class Bucket(BaseModel):
    bucket: str = Field(description='"1" .. "6", or "7+"')
    count: int
    share: float | None


class TouchesPerClient(BaseModel):
    range: Range
    contacts: int = Field(description="contacts with at least one client touch in the range")
    touches: int
    mean: float | None
    median: float | None
    p90: float | None
    histogram: list[Bucket]


class ConversionByTouch(BaseModel):
    range: Range
    converted: int = Field(description="contacts that became customers in the range")
    known: int = Field(description="of those, with a recorded conversion touch")
    buckets: list[Bucket] = Field(description="share of `known` converted at touch 1..6, 7+")
    before_seventh_share: float | None = Field(description="share converted at touches 1-6")


class DroppedLead(BaseModel):
    contact_id: int
    name: str | None
    owner_id: int | None
    stage: str
    touches: int = Field(description="client touches before the end of the range")
    last_touch_at: datetime | None
    reason: str = Field(description="lost | inactive")
    dropped_at: datetime


class DroppedByManager(BaseModel):
    owner_id: int | None
    name: str | None
    lost: int
    inactive: int
    total: int


class DroppedLeads(BaseModel):
    range: Range
    inactive_days: int
    total: int
    by_manager: list[DroppedByManager]
    items: list[DroppedLead] = Field(description="most recently dropped first, bounded by limit")
    truncated: bool


class Rate(BaseModel):
    numerator: int
    denominator: int
    rate: float | None


class SatisfactionRates(BaseModel):
    answers: int = Field(description="survey answers in the range")
    positive: int = Field(description="answers rated 4-5")
    negative_signals: int = Field(
        description="negative reactions that are not survey answers: failed deliveries, "
        "complaints, returns"
    )
    sr: float | None = Field(description="positive / answers: optimistic (DOMAIN.md)")
    sr_adjusted: float | None = Field(description="positive / (answers + negative signals)")
    negative_signals_by_kind: dict[str, int]


class Rates(BaseModel):
    range: Range
    cr: Rate = Field(description="contacts converted in the range / leads created in it")
    clr: Rate = Field(description="contacts won / won + lost in the range")
    satisfaction: SatisfactionRates


class Durations(BaseModel):
    count: int
    median_seconds: float | None
    p90_seconds: float | None


class ManagerTimes(BaseModel):
    operator_id: int | None = Field(description="None: conversations nobody was assigned")
    name: str | None
    first_response: Durations
    resolution: Durations


class ResponseTimes(BaseModel):
    range: Range
    overall: ManagerTimes
    managers: list[ManagerTimes] = Field(description="slowest median first response first")


class ReactionCounts(BaseModel):
    positive: int = 0
    neutral: int = 0
    negative: int = 0
    unknown: int = 0
    total: int = 0
    negative_share: float | None = Field(
        default=None, description="negative / rated (positive + neutral + negative)"
    )


class ChannelReactions(ReactionCounts):
    channel: str


class StepReactions(ReactionCounts):
    chain: str
    step: str | None


class ManagerReactions(ReactionCounts):
    operator_id: int
    name: str | None


class Reactions(BaseModel):
    range: Range
    by_channel: list[ChannelReactions] = Field(description="weakest link (negative share) first")
    by_step: list[StepReactions]
    by_manager: list[ManagerReactions]


class DayLoad(BaseModel):
    day: date = Field(description="the bucket's first local day (a Monday for weeks)")
    count: int


class ManagerLoad(BaseModel):
    operator_id: int | None = Field(description="None: nobody owned the conversation")
    name: str | None
    total: int
    days: list[DayLoad] = Field(description="buckets with inbound messages only, in order")


class InboundLoad(BaseModel):
    range: Range
    timezone: str
    bucket: str = Field(description="day, week (Monday to Sunday) or month")
    total: int
    managers: list[ManagerLoad] = Field(description="busiest first")
