"""The one action executor, for rules and macros alike: each action through its domain's own
command (routing assigns, the inbox sends and changes status, contacts change category and
stage), each audited and shown in the conversation as a system note.

An action the domain refuses (an operator at capacity, an unknown team) is skipped in a
savepoint, noted and audited as failed; the actions after it still run."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.automation.schemas import (
    Action,
    AddLabelAction,
    AddNoteAction,
    AssignOperatorAction,
    AssignTeamAction,
    HandoffAction,
    ResolveAction,
    SendCannedAction,
    SendMessageAction,
    SendWebhookAction,
    SetCategoryAction,
    SetPriorityAction,
    SetStageAction,
    SnoozeAction,
)
from app.canned import service as canned_service
from app.config import Settings
from app.contacts import service as contacts_service
from app.contacts.schemas import ContactUpdate
from app.core.errors import DomainError, NotFound
from app.events.dispatch import raise_event
from app.events.types import ConversationUpdated
from app.inbox import commands as inbox_commands
from app.inbox.models import Conversation, ConversationStatus, SenderType
from app.labels import service as labels_service
from app.operators.scopes import ALL_SCOPES
from app.operators.service import Principal
from app.routing import commands as routing_commands
from app.webhooks import service as webhooks_service
from app.webhooks.models import WebhookEndpoint

WEBHOOK_EVENT = "automation.triggered"

# Who rules act as: sees every conversation like an integration. Id 0 is no API key's (ids
# start at 1), so its idempotency keys ("key0/...") are nobody else's.
AUTOMATION = Principal(kind="api_key", id=0, scopes=ALL_SCOPES)


@dataclass(frozen=True, slots=True)
class Runner:
    """Who runs the actions and under what name: a rule (AUTOMATION, "Rule «…»") or an
    operator's macro (the operator, "Macro «…»"). `key` makes sends idempotent per occasion."""

    principal: Principal
    label: str
    audit_action: str  # "automation.action" | "macro.action"
    source: dict[str, int | str]  # {"rule_id": 3} or {"macro_id": 5}
    key: str
    settings: Settings


async def run(session: AsyncSession, conv: Conversation, actions: list[Action], by: Runner) -> int:
    """Run `actions` on `conv` in order; the number that succeeded."""
    done = 0
    for index, action in enumerate(actions):
        try:
            async with session.begin_nested():
                summary = await _perform(session, conv, action, by, index)
            ok = True
        except DomainError as exc:
            summary, ok = f"{action.type} failed: {exc.message}", False
        await _record(session, conv, action, by, summary, ok)
        done += ok
    return done


async def _record(
    session: AsyncSession, conv: Conversation, action: Action, by: Runner, summary: str, ok: bool
) -> None:
    await audit.record(
        session,
        actor_kind="system" if by.principal is AUTOMATION else by.principal.kind,
        actor_id=None if by.principal is AUTOMATION else by.principal.id,
        action=by.audit_action,
        target_type="conversation",
        target_id=conv.id,
        details={**by.source, "action": action.model_dump(mode="json"), "ok": ok},
    )
    if isinstance(action, AddNoteAction) and ok:
        return  # the note itself is what shows in the conversation
    await inbox_commands.queue_outgoing(
        session,
        conv,
        text=f"{by.label}: {summary}",
        private=True,
        sender_type=SenderType.system,
        operator_id=None,
        external_id=None,
        meta={"automation": {**by.source, "action": action.type, "ok": ok}},
    )


async def _perform(
    session: AsyncSession, conv: Conversation, action: Action, by: Runner, index: int
) -> str:
    """Do one action; a short English description of what was done (the system note)."""
    p = by.principal
    match action:
        case AssignTeamAction(team_id=team_id):
            await routing_commands.assign(session, p, conv.id, None, team_id, by.label)
            return f"transferred to team {team_id}"
        case AssignOperatorAction(operator_id=operator_id):
            await routing_commands.assign(session, p, conv.id, operator_id, None, by.label)
            return f"assigned to operator {operator_id}"
        case SetPriorityAction(priority=priority):
            conv.priority = priority
            await session.flush()
            await raise_event(
                session,
                ConversationUpdated(
                    conversation_id=conv.id, fields=("priority",), by=p.operator_id
                ),
            )
            return f"priority set to {priority}"
        case SetCategoryAction(category=category):
            await contacts_service.update_contact(
                session, p, conv.contact_id, ContactUpdate(category=category)
            )
            return f"client category set to {category}"
        case SetStageAction(stage=stage):
            await contacts_service.update_contact(
                session, p, conv.contact_id, ContactUpdate(stage=stage)
            )
            return f"client stage set to {stage}"
        case SendMessageAction(text=text):
            await _send(session, conv, text, by, index)
            return "message sent"
        case SendCannedAction(canned_response_id=canned_id):
            canned = (
                # An operator's macro sends only the responses they may use.
                await canned_service.get_visible(session, p, canned_id)
                if p.kind == "operator"
                else canned_id
            )
            text = await canned_service.render(session, canned, conv.id, operator_id=p.operator_id)
            await _send(session, conv, text, by, index)
            return f"canned response {canned_id} sent"
        case AddLabelAction(name=name):
            await labels_service.add_label(session, "conversation", conv.id, name, by=p.operator_id)
            return f"label {name} added"
        case SendWebhookAction(endpoint_id=endpoint_id):
            endpoint = await session.get(WebhookEndpoint, endpoint_id)
            if endpoint is None or not endpoint.is_active:
                raise NotFound(f"Webhook {endpoint_id} not found or switched off")
            await webhooks_service.enqueue(
                session,
                endpoint_id,
                WEBHOOK_EVENT,
                {"conversation_id": conv.id, "contact_id": conv.contact_id, **by.source},
                settings=by.settings,
                conversation_id=conv.id,
            )
            return f"webhook {endpoint_id} queued"
        case AddNoteAction(text=text):
            await inbox_commands.queue_outgoing(
                session,
                conv,
                text=text,
                private=True,
                sender_type=SenderType.system,
                operator_id=None,
                external_id=None,
                meta={"automation": {**by.source, "action": action.type, "ok": True}},
            )
            return "note added"
        case ResolveAction():
            await inbox_commands.set_status(session, p, conv.id, ConversationStatus.resolved, None)
            return "resolved"
        case HandoffAction():
            _, done = await routing_commands.handoff(session, conv.id, by=p.operator_id)
            return "handed off to the people" if done else "not with a bot: nothing to hand off"
        case SnoozeAction(minutes=minutes):
            until = datetime.now(UTC) + timedelta(minutes=minutes)
            await inbox_commands.set_status(session, p, conv.id, ConversationStatus.snoozed, until)
            return f"snoozed for {minutes} min"
    raise AssertionError(f"unhandled action {action!r}")


async def _send(
    session: AsyncSession, conv: Conversation, text: str, by: Runner, index: int
) -> None:
    """An operator's macro replies as the operator; a rule sends like an integration (the
    channel's rules, a reply window for one, apply either way)."""
    if by.principal.kind == "operator":
        await inbox_commands.reply(
            session,
            by.principal,
            conv.id,
            text=text,
            private=False,
            client_message_id=None,
            max_chars=by.settings.max_message_chars,
        )
        return
    await inbox_commands.integration_send(
        session,
        by.principal,
        idempotency_key=f"{by.key}/{index}",
        text=text,
        conversation_id=conv.id,
        contact_id=None,
        channel_id=None,
        max_chars=by.settings.max_message_chars,
    )
