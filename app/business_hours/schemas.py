import itertools
import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, model_validator

from app.core.schemas import RequestModel
from app.core.timezones import check_zone

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
LANGUAGES = ("en", "ru")  # the automatic replies' languages


def minutes(clock: str) -> int:
    """'09:30' -> 570; '24:00' (the day's end) -> 1440."""
    hours, mins = clock.split(":")
    return int(hours) * 60 + int(mins)


def clock(total: int) -> str:
    return f"{total // 60:02d}:{total % 60:02d}"


def _check_clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError("a local time HH:MM from 00:00 to 24:00")
    return value


Clock = Annotated[str, AfterValidator(_check_clock)]


class Interval(RequestModel):
    weekday: int = Field(ge=1, le=7, description="ISO: 1 = Monday .. 7 = Sunday")
    opens: Clock = Field(description="local time HH:MM")
    closes: Clock = Field(description="local time HH:MM; 24:00 = the day's end")

    @model_validator(mode="after")
    def _ordered(self) -> "Interval":
        if minutes(self.opens) >= minutes(self.closes):
            raise ValueError(f"opens {self.opens} is not before closes {self.closes}")
        return self


class Holiday(RequestModel):
    date: date
    name: str | None = Field(default=None, max_length=200)


class BusinessHoursWrite(RequestModel):
    enabled: bool = Field(description="false: the team is always open (the schedule is removed)")
    timezone: Annotated[str, AfterValidator(check_zone)] = Field(max_length=64)
    business_time_only: bool = Field(
        default=False, description="response targets count only open time"
    )
    schedule: list[Interval] = Field(default_factory=list, max_length=7 * 24)
    holidays: list[Holiday] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _no_overlap(self) -> "BusinessHoursWrite":
        by_day = sorted((i.weekday, minutes(i.opens), minutes(i.closes)) for i in self.schedule)
        for (day, _, end), (next_day, start, _) in itertools.pairwise(by_day):
            if day == next_day and start < end:
                raise ValueError(f"intervals of weekday {day} overlap")
        days = [h.date for h in self.holidays]
        if len(days) != len(set(days)):
            raise ValueError("a holiday date is listed twice")
        return self


class BusinessHoursRead(BaseModel):
    team_id: int
    enabled: bool
    timezone: str
    business_time_only: bool
    schedule: list[Interval]
    holidays: list[Holiday]
    open_now: bool


Texts = dict[str, Annotated[str, Field(max_length=4000)]]


def _check_languages(texts: Texts) -> Texts:
    if unknown := set(texts) - set(LANGUAGES):
        raise ValueError(f"languages are {', '.join(LANGUAGES)}, not {', '.join(sorted(unknown))}")
    return {lang: text.strip() for lang, text in texts.items() if text.strip()}


LanguageTexts = Annotated[Texts, AfterValidator(_check_languages)]


class AutoRepliesWrite(RequestModel):
    """Per kind, the text per language; a missing or empty text switches that reply off."""

    greeting: LanguageTexts = Field(default_factory=dict)
    out_of_office: LanguageTexts = Field(default_factory=dict)


class AutoRepliesRead(BaseModel):
    channel_id: int
    greeting: dict[str, str]
    out_of_office: dict[str, str]
