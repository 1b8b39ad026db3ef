"""Keeping rules and macros: create, change, order, delete, each audited; the dry run; a
macro's run."""

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.automation import actions as executor
from app.automation import engine
from app.automation.models import AutomationRule, Macro
from app.automation.schemas import (
    ConditionOutcome,
    DryRunResult,
    MacroRead,
    MacroUpdate,
    MacroWrite,
    RuleOrder,
    RuleUpdate,
    RuleWrite,
    SampleEvent,
)
from app.config import Settings
from app.core.errors import Forbidden, Invalid, NotFound
from app.inbox.models import Conversation
from app.inbox.queries import get_conversation
from app.operators.service import Principal


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    target: str,
    target_id: int | None,
    **d: Any,
) -> None:
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action=action,
        target_type=target,
        target_id=target_id,
        details=d,
    )


# --- rules ------------------------------------------------------------------------------


async def list_rules(session: AsyncSession) -> list[AutomationRule]:
    rows = await session.scalars(
        select(AutomationRule).order_by(AutomationRule.position, AutomationRule.id)
    )
    return list(rows.all())


async def get_rule(session: AsyncSession, rule_id: int, *, lock: bool = False) -> AutomationRule:
    rule = await session.get(AutomationRule, rule_id, with_for_update=lock)
    if rule is None:
        raise NotFound(f"Automation rule {rule_id} not found")
    return rule


async def create_rule(
    session: AsyncSession, principal: Principal, body: RuleWrite
) -> AutomationRule:
    data = body.model_dump(mode="json")
    if data["position"] is None:  # after the last one
        last = await session.scalar(select(func.max(AutomationRule.position)))
        data["position"] = 0 if last is None else last + 1
    rule = AutomationRule(**data)
    session.add(rule)
    await session.flush()
    await _audit(session, principal, "automation_rule.create", "automation_rule", rule.id, **data)
    return rule


async def update_rule(
    session: AsyncSession, principal: Principal, rule_id: int, body: RuleUpdate
) -> AutomationRule:
    rule = await get_rule(session, rule_id, lock=True)
    changes = body.model_dump(mode="json", exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise Invalid(f"{key} cannot be null", "null_field")
        setattr(rule, key, value)
    await session.flush()
    await _audit(
        session, principal, "automation_rule.update", "automation_rule", rule.id, **changes
    )
    return rule


async def delete_rule(session: AsyncSession, principal: Principal, rule_id: int) -> None:
    rule = await get_rule(session, rule_id, lock=True)
    await session.delete(rule)
    await _audit(session, principal, "automation_rule.delete", "automation_rule", rule_id)


async def order_rules(
    session: AsyncSession, principal: Principal, body: RuleOrder
) -> list[AutomationRule]:
    rules = {r.id: r for r in await list_rules(session)}
    if sorted(body.rule_ids) != sorted(rules):
        raise Invalid("rule_ids must list every rule exactly once", "incomplete_order")
    for position, rule_id in enumerate(body.rule_ids):
        rules[rule_id].position = position
    await session.flush()
    await _audit(
        session, principal, "automation_rule.order", "automation_rule", None, rule_ids=body.rule_ids
    )
    return await list_rules(session)


async def dry_run(session: AsyncSession, rule_id: int, sample: SampleEvent) -> DryRunResult:
    """What the rule would do for the sample: evaluated, never run (nothing is written)."""
    rule = await get_rule(session, rule_id)
    conv = await session.get(Conversation, sample.conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {sample.conversation_id} not found")
    what = engine.Happening(
        trigger=sample.type,
        direction=sample.direction,
        fields=tuple(sample.fields),
        text=sample.text,
    )
    trigger_ok = engine.trigger_accepts(engine.TRIGGER.validate_python(rule.trigger), what)
    outcomes = await engine.evaluate(session, rule, conv, what)
    would = trigger_ok and all(ok for _, ok in outcomes)
    return DryRunResult(
        trigger_matches=trigger_ok,
        conditions=[ConditionOutcome(condition=c, matched=ok) for c, ok in outcomes],
        would_run=would,
        actions=engine.ACTIONS.validate_python(rule.actions) if would else [],
    )


# --- macros -----------------------------------------------------------------------------


def _operator(principal: Principal) -> int:
    if principal.operator_id is None:
        raise Forbidden("An API key is not an operator", "operator_only")
    return principal.operator_id


def macro_read(macro: Macro) -> MacroRead:
    return MacroRead(
        id=macro.id,
        name=macro.name,
        shared=macro.owner_id is None,
        owner_id=macro.owner_id,
        actions=engine.ACTIONS.validate_python(macro.actions),
    )


async def list_macros(session: AsyncSession, principal: Principal) -> list[Macro]:
    """The caller's own macros and the shared ones."""
    me = _operator(principal)
    rows = await session.scalars(
        select(Macro)
        .where(or_(Macro.owner_id.is_(None), Macro.owner_id == me))
        .order_by(Macro.name, Macro.id)
    )
    return list(rows.all())


async def get_macro(
    session: AsyncSession, principal: Principal, macro_id: int, *, to_change: bool = False
) -> Macro:
    """A macro the caller may use (their own or a shared one); to change a shared one they
    must be an admin. Someone else's personal macro does not exist for them."""
    me = _operator(principal)
    macro = await session.get(Macro, macro_id)
    if macro is None or macro.owner_id not in (None, me):
        raise NotFound(f"Macro {macro_id} not found")
    if to_change and macro.owner_id is None and not principal.is_admin:
        raise Forbidden("Only admins change shared macros", "admins_only")
    return macro


async def create_macro(session: AsyncSession, principal: Principal, body: MacroWrite) -> Macro:
    me = _operator(principal)
    if body.shared and not principal.is_admin:
        raise Forbidden("Only admins create shared macros", "admins_only")
    actions = [a.model_dump(mode="json") for a in body.actions]
    macro = Macro(name=body.name, owner_id=None if body.shared else me, actions=actions)
    session.add(macro)
    await session.flush()
    await _audit(
        session,
        principal,
        "macro.create",
        "macro",
        macro.id,
        name=body.name,
        shared=body.shared,
        actions=actions,
    )
    return macro


async def update_macro(
    session: AsyncSession, principal: Principal, macro_id: int, body: MacroUpdate
) -> Macro:
    macro = await get_macro(session, principal, macro_id, to_change=True)
    changes = body.model_dump(mode="json", exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise Invalid(f"{key} cannot be null", "null_field")
        setattr(macro, key, value)
    await session.flush()
    await _audit(session, principal, "macro.update", "macro", macro.id, **changes)
    return macro


async def delete_macro(session: AsyncSession, principal: Principal, macro_id: int) -> None:
    macro = await get_macro(session, principal, macro_id, to_change=True)
    await session.delete(macro)
    await _audit(session, principal, "macro.delete", "macro", macro_id)


async def run_macro(
    session: AsyncSession,
    principal: Principal,
    conversation_id: int,
    macro_id: int,
    *,
    settings: Settings,
) -> int:
    """Run a macro on a conversation the operator sees, as the operator (the same executor
    as the rules; each action audited and noted). The number of actions that succeeded."""
    conv = await get_conversation(session, principal, conversation_id, lock=True)
    macro = await get_macro(session, principal, macro_id)
    return await executor.run(
        session,
        conv,
        engine.ACTIONS.validate_python(macro.actions),
        executor.Runner(
            principal=principal,
            label=f"Macro «{macro.name}»",
            audit_action="macro.action",
            source={"macro_id": macro.id},
            key=f"macro/{macro.id}",
            settings=settings,
        ),
    )
