from datetime import date, datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.chains.models import OrderStatus
from app.core.schemas import RequestModel


class ClientRef(RequestModel):
    """Who the order is for: one or more of these; the first that finds a contact wins."""

    contact_id: int | None = None
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=320)
    telegram_id: str | None = Field(default=None, max_length=200, description="Telegram user id")
    wa_id: str | None = Field(default=None, max_length=200, description="WhatsApp wa_id")
    vk_id: str | None = Field(default=None, max_length=200, description="VK user id")
    widget_identifier: str | None = Field(
        default=None, max_length=200, description="The `identifier` the site gives the widget"
    )
    name: str | None = Field(default=None, max_length=300)

    @model_validator(mode="after")
    def _some_key(self) -> Self:
        keys = (
            self.contact_id,
            self.phone,
            self.email,
            self.telegram_id,
            self.wa_id,
            self.vk_id,
            self.widget_identifier,
        )
        if all(k is None for k in keys):
            raise ValueError(
                "client needs contact_id, phone, email, telegram_id, wa_id, vk_id "
                "or widget_identifier"
            )
        return self


class OrderPut(RequestModel):
    client: ClientRef
    items: Any = None
    amount: Any = None
    promised_date: date | None = None
    language: Literal["ru", "en"] = "en"
    first_name: str | None = Field(default=None, max_length=100)


class OrderEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event_id: str
    status: str
    outcome: str
    occurred_at: datetime
    message_id: int | None


class OrderRead(BaseModel):
    external_id: str
    contact_id: int
    status: str | None
    language: str
    first_name: str | None
    items: Any
    amount: Any
    promised_date: date | None
    flagged: bool
    flag_reason: str | None
    tracking_url: str
    created_at: datetime
    updated_at: datetime
    events: list[OrderEventRead] = Field(default_factory=list)


class CourierWindow(RequestModel):
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("window.end must be after window.start")
        return self


class OrderEventCreate(RequestModel):
    event_id: str = Field(min_length=1, max_length=200)
    status: OrderStatus
    occurred_at: datetime | None = None
    days: int | None = Field(default=None, ge=1, le=365, description="delayed: by how many days")
    reason: str | None = Field(default=None, min_length=1, max_length=500)
    window: CourierWindow | None = None

    @model_validator(mode="after")
    def _per_status(self) -> Self:
        if self.status == OrderStatus.delayed and (self.days is None or not self.reason):
            raise ValueError("a delayed event needs days and reason")
        if self.status == OrderStatus.courier_scheduled and self.window is None:
            raise ValueError("a courier_scheduled event needs a window {start, end}")
        return self


class EventResult(BaseModel):
    """What happened to an event. A repeated event_id gets the first answer again."""

    order: str
    event_id: str
    status: str
    order_status: str | None
    outcome: Literal["sent", "late", "repeated", "disabled", "flagged"]
    message_id: int | None = None
    conversation_id: int | None = None
    channel_id: int | None = None


class TemplateButton(RequestModel):
    text: str = Field(min_length=1, max_length=40)
    action: str = Field(min_length=1, max_length=20, pattern=r"^[a-z_]+$")


class ChainTemplateWrite(RequestModel):
    text: str = Field(min_length=1, max_length=4000)
    enabled: bool = True
    buttons: list[list[TemplateButton]] = Field(default_factory=list, max_length=3)


class ChainTemplateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: str
    language: str
    text: str
    enabled: bool
    buttons: list[list[TemplateButton]]
