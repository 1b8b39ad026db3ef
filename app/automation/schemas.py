"""Rule and macro bodies: each trigger, condition and action is a model tagged by `type`
(pydantic discriminated unions), so a wrong body is a 422 naming the field and the type."""

from datetime import datetime
from typing import Annotated, Literal

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.contacts.schemas import Stage
from app.core.schemas import RequestModel

# --- triggers ---------------------------------------------------------------------------


class ConversationCreatedTrigger(RequestModel):
    type: Literal["conversation.created"]


class MessageCreatedTrigger(RequestModel):
    type: Literal["message.created"]
    # Only the client's messages by default: our own replies and notes would feed rules
    # that answer messages (a loop by design).
    include_outgoing: bool = False


class ConversationResolvedTrigger(RequestModel):
    type: Literal["conversation.resolved"]


class ContactChangedTrigger(RequestModel):
    type: Literal["contact.changed"]
    fields: list[Literal["category", "stage"]] = Field(default=["category", "stage"], min_length=1)


class NoReplyTrigger(RequestModel):
    """The client's last message has waited `minutes` for a person's answer (a timer)."""

    type: Literal["no_reply"]
    minutes: int = Field(ge=1, le=60 * 24 * 30)


Trigger = Annotated[
    ConversationCreatedTrigger
    | MessageCreatedTrigger
    | ConversationResolvedTrigger
    | ContactChangedTrigger
    | NoReplyTrigger,
    Field(discriminator="type"),
]

# --- conditions -------------------------------------------------------------------------


class ChannelCondition(RequestModel):
    type: Literal["channel"]
    channel_ids: list[int] = Field(min_length=1)


class TeamCondition(RequestModel):
    type: Literal["team"]
    team_ids: list[int] = Field(min_length=1)


class TextContainsCondition(RequestModel):
    """Any of the words occurs in the text (case-insensitive)."""

    type: Literal["text_contains"]
    values: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)


class TextMatchesCondition(RequestModel):
    """The text matches the pattern (the `regex` package, searched with a timeout)."""

    type: Literal["text_matches"]
    pattern: str = Field(min_length=1, max_length=500)

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            regex.compile(value)
        except regex.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class ContactCategoryCondition(RequestModel):
    type: Literal["contact_category"]
    values: list[Annotated[str, Field(min_length=1, max_length=16)]] = Field(min_length=1)


class ContactStageCondition(RequestModel):
    type: Literal["contact_stage"]
    values: list[Stage] = Field(min_length=1)


class LanguageCondition(RequestModel):
    """The text's script guess (app.automation.language): "ru" Cyrillic, "en" Latin."""

    type: Literal["language"]
    language: Literal["ru", "en"]


class LabelCondition(RequestModel):
    """The conversation carries any of these labels (any case)."""

    type: Literal["label"]
    names: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1)


class BusinessHoursCondition(RequestModel):
    """Inside (open: true) or outside (open: false) the conversation's team's business hours
    at the moment of the event (app.business_hours; no schedule: always open)."""

    type: Literal["business_hours"]
    open: bool = True


Condition = Annotated[
    ChannelCondition
    | TeamCondition
    | TextContainsCondition
    | TextMatchesCondition
    | ContactCategoryCondition
    | ContactStageCondition
    | LanguageCondition
    | LabelCondition
    | BusinessHoursCondition,
    Field(discriminator="type"),
]

# --- actions ----------------------------------------------------------------------------


class AssignTeamAction(RequestModel):
    type: Literal["assign_team"]
    team_id: int


class AssignOperatorAction(RequestModel):
    type: Literal["assign_operator"]
    operator_id: int


class SetPriorityAction(RequestModel):
    type: Literal["set_priority"]
    priority: int = Field(ge=0, le=10)


class SetCategoryAction(RequestModel):
    type: Literal["set_category"]
    category: str = Field(min_length=1, max_length=16)


class SetStageAction(RequestModel):
    type: Literal["set_stage"]
    stage: Stage


class SendMessageAction(RequestModel):
    type: Literal["send_message"]
    text: str = Field(min_length=1, max_length=4000)


class AddLabelAction(RequestModel):
    type: Literal["add_label"]
    name: str = Field(min_length=1, max_length=64)


class SendCannedAction(RequestModel):
    """Send a canned response, its variables filled in for the conversation."""

    type: Literal["send_canned"]
    canned_response_id: int


class SendWebhookAction(RequestModel):
    """Queue a delivery to one outgoing webhook endpoint (app.webhooks: signed, retried):
    type "automation.triggered", data the conversation and the rule or macro."""

    type: Literal["send_webhook"]
    endpoint_id: int


class AddNoteAction(RequestModel):
    type: Literal["add_note"]
    text: str = Field(min_length=1, max_length=4000)


class ResolveAction(RequestModel):
    type: Literal["resolve"]


class HandoffAction(RequestModel):
    """An agent bot's conversation goes to the people (routing); any other: nothing."""

    type: Literal["handoff"]


class SnoozeAction(RequestModel):
    type: Literal["snooze"]
    minutes: int = Field(ge=1, le=60 * 24 * 90)


Action = Annotated[
    AssignTeamAction
    | AssignOperatorAction
    | SetPriorityAction
    | SetCategoryAction
    | SetStageAction
    | SendMessageAction
    | SendCannedAction
    | AddLabelAction
    | SendWebhookAction
    | AddNoteAction
    | ResolveAction
    | SnoozeAction
    | HandoffAction,
    Field(discriminator="type"),
]

Actions = Annotated[list[Action], Field(min_length=1, max_length=20)]

# --- rules ------------------------------------------------------------------------------


class RuleWrite(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    active: bool = True
    position: int | None = Field(default=None, ge=0, description="null: after the last rule")
    trigger: Trigger
    conditions: list[Condition] = Field(default=[], max_length=20)
    actions: Actions


class RuleUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool | None = None
    position: int | None = Field(default=None, ge=0)
    trigger: Trigger | None = None
    conditions: list[Condition] | None = Field(default=None, max_length=20)
    actions: Actions | None = None


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    position: int
    active: bool
    trigger: Trigger
    conditions: list[Condition]
    actions: list[Action]
    created_at: datetime


class RuleOrder(RequestModel):
    """Every rule's id, in the order they run."""

    rule_ids: list[int]


class SampleEvent(RequestModel):
    """What the dry run pretends happened: this trigger on this conversation, with this text
    (default: the conversation's last client message)."""

    type: Literal[
        "conversation.created",
        "message.created",
        "conversation.resolved",
        "contact.changed",
        "no_reply",
    ]
    conversation_id: int
    text: str | None = Field(default=None, max_length=4000)
    direction: Literal["inbound", "outbound"] = "inbound"
    fields: list[Literal["category", "stage"]] = Field(default=["category", "stage"])


class ConditionOutcome(BaseModel):
    condition: Condition
    matched: bool


class DryRunResult(BaseModel):
    trigger_matches: bool
    conditions: list[ConditionOutcome]
    would_run: bool
    actions: list[Action]


# --- macros -----------------------------------------------------------------------------


class MacroWrite(RequestModel):
    name: str = Field(min_length=1, max_length=200)
    shared: bool = Field(default=False, description="true: every operator's (admins only)")
    actions: Actions


class MacroUpdate(RequestModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    actions: Actions | None = None


class MacroRead(BaseModel):
    id: int
    name: str
    shared: bool
    owner_id: int | None
    actions: list[Action]


class MacroRunResult(BaseModel):
    actions_run: int
