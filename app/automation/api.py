"""/api/v1/automation-rules (admins) and /api/v1/macros (operators)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.automation import service
from app.automation.models import AutomationRule
from app.automation.schemas import (
    DryRunResult,
    MacroRead,
    MacroRunResult,
    MacroUpdate,
    MacroWrite,
    RuleOrder,
    RuleRead,
    RuleUpdate,
    RuleWrite,
    SampleEvent,
)
from app.core.deps import Ctx, Session
from app.operators import scopes
from app.operators.auth import current_principal, require
from app.operators.service import Principal

router = APIRouter(prefix="/api/v1", tags=["automation"])

Admin = Annotated[Principal, Depends(require(scopes.OPERATORS_WRITE))]
Operator = Annotated[Principal, Depends(current_principal)]


def _read(rule: AutomationRule) -> RuleRead:
    return RuleRead.model_validate(rule)


@router.get("/automation-rules", response_model=list[RuleRead])
async def list_rules(principal: Admin, session: Session) -> list[RuleRead]:
    """Every rule, in the order they run."""
    return [_read(r) for r in await service.list_rules(session)]


@router.post("/automation-rules", response_model=RuleRead, status_code=201)
async def create_rule(body: RuleWrite, principal: Admin, session: Session) -> RuleRead:
    rule = await service.create_rule(session, principal, body)
    read = _read(rule)
    await session.commit()
    return read


@router.put("/automation-rules/order", response_model=list[RuleRead])
async def order_rules(body: RuleOrder, principal: Admin, session: Session) -> list[RuleRead]:
    """Set the order the rules run in: every rule's id, first to last."""
    rules = [_read(r) for r in await service.order_rules(session, principal, body)]
    await session.commit()
    return rules


@router.get("/automation-rules/{rule_id}", response_model=RuleRead)
async def get_rule(rule_id: int, principal: Admin, session: Session) -> RuleRead:
    return _read(await service.get_rule(session, rule_id))


@router.patch("/automation-rules/{rule_id}", response_model=RuleRead)
async def update_rule(
    rule_id: int, body: RuleUpdate, principal: Admin, session: Session
) -> RuleRead:
    read = _read(await service.update_rule(session, principal, rule_id, body))
    await session.commit()
    return read


@router.delete("/automation-rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: int, principal: Admin, session: Session) -> Response:
    await service.delete_rule(session, principal, rule_id)
    await session.commit()
    return Response(status_code=204)


@router.post("/automation-rules/{rule_id}/dry-run", response_model=DryRunResult)
async def dry_run(
    rule_id: int, body: SampleEvent, principal: Admin, session: Session
) -> DryRunResult:
    """Which conditions the sample meets and which actions would run; changes nothing."""
    result = await service.dry_run(session, rule_id, body)
    await session.rollback()
    return result


@router.get("/macros", response_model=list[MacroRead])
async def list_macros(principal: Operator, session: Session) -> list[MacroRead]:
    """The caller's own macros and the shared ones."""
    return [service.macro_read(m) for m in await service.list_macros(session, principal)]


@router.post("/macros", response_model=MacroRead, status_code=201)
async def create_macro(body: MacroWrite, principal: Operator, session: Session) -> MacroRead:
    read = service.macro_read(await service.create_macro(session, principal, body))
    await session.commit()
    return read


@router.patch("/macros/{macro_id}", response_model=MacroRead)
async def update_macro(
    macro_id: int, body: MacroUpdate, principal: Operator, session: Session
) -> MacroRead:
    read = service.macro_read(await service.update_macro(session, principal, macro_id, body))
    await session.commit()
    return read


@router.delete("/macros/{macro_id}", status_code=204)
async def delete_macro(macro_id: int, principal: Operator, session: Session) -> Response:
    await service.delete_macro(session, principal, macro_id)
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/conversations/{conversation_id}/macros/{macro_id}/run", response_model=MacroRunResult
)
async def run_macro(
    conversation_id: int,
    macro_id: int,
    principal: Annotated[Principal, Depends(require(scopes.CONVERSATIONS_WRITE))],
    session: Session,
    ctx: Ctx,
) -> MacroRunResult:
    done = await service.run_macro(
        session, principal, conversation_id, macro_id, settings=ctx.settings
    )
    await session.commit()
    return MacroRunResult(actions_run=done)
