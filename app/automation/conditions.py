"""Whether a rule's conditions hold for a conversation at a moment (all must hold)."""

import logging
from dataclasses import dataclass

import regex

from app.automation import language
from app.automation.schemas import (
    BusinessHoursCondition,
    ChannelCondition,
    Condition,
    ContactCategoryCondition,
    ContactStageCondition,
    LabelCondition,
    LanguageCondition,
    TeamCondition,
    TextContainsCondition,
    TextMatchesCondition,
)
from app.contacts.models import Contact
from app.inbox.models import Conversation

log = logging.getLogger(__name__)

# A pattern that backtracks catastrophically is stopped and counts as no match.
REGEX_TIMEOUT_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Facts:
    """What conditions look at: the conversation, its client and the text in question (the
    message of a message event, else the client's last message)."""

    conversation: Conversation
    contact: Contact | None
    text: str
    labels: tuple[str, ...] = ()  # the conversation's
    open_hours: bool = True  # its team's business hours, at the moment in question


def matches(condition: Condition, facts: Facts) -> bool:
    conv, contact, text = facts.conversation, facts.contact, facts.text
    match condition:
        case ChannelCondition(channel_ids=ids):
            return conv.channel_account_id in ids
        case TeamCondition(team_ids=ids):
            return conv.team_id in ids
        case TextContainsCondition(values=values):
            folded = text.casefold()
            return any(v.casefold() in folded for v in values)
        case TextMatchesCondition(pattern=pattern):
            return _search(pattern, text)
        case ContactCategoryCondition(values=values):
            return contact is not None and contact.category in values
        case ContactStageCondition(values=values):
            return contact is not None and contact.stage in values
        case LanguageCondition(language=wanted):
            return language.guess(text) == wanted
        case BusinessHoursCondition(open=wanted):
            return facts.open_hours == wanted
        case LabelCondition(names=names):
            carried = {n.casefold() for n in facts.labels}
            return any(n.strip().casefold() in carried for n in names)
    raise AssertionError(f"unhandled condition {condition!r}")


def _search(pattern: str, text: str) -> bool:
    try:
        return regex.search(pattern, text, timeout=REGEX_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        log.warning("automation pattern %r timed out; counted as no match", pattern)
        return False
