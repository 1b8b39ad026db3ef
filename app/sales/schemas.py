"""What the head of sales' reports answer. Shares are fractions (0..1), None when their
denominator is zero."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.analytics.schemas import Bucket, Range
from app.core.schemas import RequestModel
from app.touchpoints.schemas import DueTouch


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


# ---------------------------------------------------------------- settings and targets

CURVE_POINTS = 7  # touches 1..6 and 7+


class SettingsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    contacts_per_deal: float = Field(description="the weekly plan: contacts per deal wanted")
    base_min: int = Field(description="a live base below this is flagged")
    base_max: int = Field(description="a live base above this is flagged")
    reference_curve: list[float | None] = Field(
        description="the rule of seven: share of deals closed at touch 1..6 and 7+"
    )
    drop_inactive_days: int = Field(description="a lead quiet this long is dropped")
    review_period_days: int = Field(description="each base client is reviewed this often")
    opt_out_words: list[str] = Field(
        description="a client's message that is one of these opts them out of automated messages"
    )


class SettingsUpdate(RequestModel):
    contacts_per_deal: float | None = Field(default=None, gt=0, le=1000)
    base_min: int | None = Field(default=None, ge=0, le=100_000)
    base_max: int | None = Field(default=None, ge=1, le=100_000)
    reference_curve: list[float | None] | None = Field(
        default=None, min_length=CURVE_POINTS, max_length=CURVE_POINTS
    )
    drop_inactive_days: int | None = Field(default=None, ge=1, le=365)
    review_period_days: int | None = Field(default=None, ge=1, le=366)
    opt_out_words: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=50
    )

    @field_validator("opt_out_words")
    @classmethod
    def _words(cls, words: list[str] | None) -> list[str] | None:
        # Compared with the client's message lowercased and trimmed (sales.cadence_messages).
        return None if words is None else sorted({w.strip().lower() for w in words} - {""})

    @field_validator("reference_curve")
    @classmethod
    def _shares(cls, curve: list[float | None] | None) -> list[float | None] | None:
        if curve is not None and any(v is not None and not 0 <= v <= 1 for v in curve):
            raise ValueError("each share is between 0 and 1")
        return curve

    @model_validator(mode="after")
    def _no_nulls(self) -> "SettingsUpdate":
        for key, value in self.model_dump(exclude_unset=True).items():
            if value is None:
                raise ValueError(f"{key} cannot be null")
        return self


class TargetWrite(RequestModel):
    deals_per_week: int = Field(ge=0, le=10_000)


class ManagerPlan(BaseModel):
    operator_id: int
    name: str
    deals_wanted: int | None = Field(description="the manager's weekly target; None: not set")
    contacts_needed: int | None = Field(description="deals_wanted x contacts_per_deal, rounded up")
    contacts_touched: int = Field(description="clients the manager reached out to this week")
    touches: int = Field(description="the manager's client touches this week, inbound excluded")
    deals_won: int = Field(description="the manager's clients converted this week")
    shortfall: int | None = Field(description="contacts still needed this week")


class WeeklyPlan(BaseModel):
    range: Range
    contacts_per_deal: float
    managers: list[ManagerPlan]


# ---------------------------------------------------------------- the rule of seven


class ReferencePoint(BaseModel):
    bucket: str = Field(description='"1" .. "6", or "7+"')
    share: float | None = Field(description="the reference share of deals closed here")


class Conversion(BaseModel):
    known: int = Field(description="conversions with a recorded touch number")
    buckets: list[Bucket]
    before_seventh_share: float | None


class ManagerConversion(Conversion):
    operator_id: int | None
    name: str | None


class ChannelConversion(Conversion):
    channel: str = Field(description="of the touch the client converted at")


class RuleOfSeven(BaseModel):
    range: Range
    reference: list[ReferencePoint] = Field(description="sales settings' reference_curve")
    overall: Conversion
    by_manager: list[ManagerConversion] = Field(description="most conversions first")
    by_channel: list[ChannelConversion]


# ---------------------------------------------------------------- base health and review


class ManagerBase(BaseModel):
    operator_id: int
    name: str
    live_base: int = Field(description="clients owned and not lost")
    band: Literal["below", "within", "above"]
    overdue: int = Field(description="clients with no touch for longer than their cadence")
    review_due: int = Field(description="base clients not reviewed within review_period_days")
    overdue_clients: list[DueTouch] = Field(description="most overdue first")


class BaseHealth(BaseModel):
    on: date
    timezone: str
    base_min: int
    base_max: int
    managers: list[ManagerBase]


class ReviewItem(BaseModel):
    id: int
    name: str | None
    owner_id: int
    category: str | None
    priority_level: int | None
    stage: str


class ReviewList(BaseModel):
    review_period_days: int
    items: list[ReviewItem]


Decision = Literal["keep", "move_up", "move_down", "remove"]


class ReviewDecision(RequestModel):
    contact_id: int
    decision: Decision = Field(
        description="move_up/move_down: the priority level (1 is the top); remove: out of the "
        "manager's base"
    )
    note: str | None = Field(default=None, max_length=2000)


class ReviewOutcome(BaseModel):
    contact_id: int
    decision: Decision
    priority_level: int | None
    owner_id: int | None
    touchpoint_id: int


# ---------------------------------------------------------------- manager KPIs


class KpiPoint(BaseModel):
    period: date = Field(description="the bucket's first local day")
    calls: int
    meetings: int


class DealAmounts(BaseModel):
    currency: str | None = Field(description="the orders' amount.currency; None: not given")
    deals: int
    with_amount: int = Field(description="deals whose amount is a number")
    total: str | None = Field(description="decimal, 2 places")
    average: str | None = Field(description="the average deal size, decimal, 2 places")


class ManagerKpis(BaseModel):
    operator_id: int
    name: str
    calls: int = Field(description="calls the manager logged in the range")
    meetings: int
    deals: int = Field(description="orders placed by the manager's clients, not cancelled")
    amounts: list[DealAmounts] = Field(description="per currency")
    conversions: int = Field(description="the manager's clients converted in the range")
    days_to_deal_median: float | None = Field(description="first contact -> conversion")
    days_to_deal_mean: float | None
    new_inbound: int = Field(description="new clients who wrote first")
    new_prospected: int = Field(description="new clients the manager reached first")
    won_inbound: int
    won_prospected: int
    series: list[KpiPoint] = Field(description="calls and meetings per bucket, with any only")


class Kpis(BaseModel):
    range: Range
    bucket: str
    managers: list[ManagerKpis]


# ---------------------------------------------------------------- useful messages on cadence


class CadenceTemplateWrite(RequestModel):
    category: str = Field(min_length=1, max_length=16, description="a category code")
    language: str = Field(min_length=2, max_length=8, description="ru, en, ...")
    text: str = Field(min_length=1, max_length=4000, description="may use {first_name} and {name}")
    enabled: bool = True


class CadenceTemplatePatch(RequestModel):
    text: str | None = Field(default=None, min_length=1, max_length=4000)
    enabled: bool | None = None


class CadenceTemplateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    category: str
    language: str
    text: str
    enabled: bool
    updated_at: datetime
