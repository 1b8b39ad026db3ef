"""The head of sales' settings and the managers' weekly targets: read by every report,
changed by admins (targets by team leads too), each change in the audit log."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Forbidden, Invalid
from app.operators.models import Operator, team_members
from app.operators.service import Principal
from app.sales.models import SalesSettings, SalesTarget
from app.sales.schemas import SettingsUpdate


async def current(session: AsyncSession) -> SalesSettings:
    row = await session.get(SalesSettings, 1)
    assert row is not None, "the migration seeds the one row"
    return row


async def update(session: AsyncSession, data: SettingsUpdate) -> tuple[SalesSettings, Any]:
    row = await session.get(SalesSettings, 1, with_for_update=True)
    assert row is not None
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        setattr(row, key, value)
    if row.base_min > row.base_max:
        raise Invalid("base_min is above base_max", "invalid_band")
    await session.flush()
    return row, data.model_dump(mode="json", exclude_unset=True)


async def targets(session: AsyncSession, operator_ids: list[int]) -> dict[int, int]:
    rows = await session.execute(
        select(SalesTarget.operator_id, SalesTarget.deals_per_week).where(
            SalesTarget.operator_id.in_(operator_ids)
        )
    )
    return {r.operator_id: r.deals_per_week for r in rows}


async def set_target(
    session: AsyncSession, principal: Principal, operator_id: int, deals_per_week: int
) -> None:
    """Admins set anyone's target; a team lead sets those of their team's members."""
    if await session.get(Operator, operator_id) is None:
        raise Invalid(f"Operator {operator_id} not found", "unknown_operator")
    if not principal.sees_everything:
        led = await session.scalar(
            select(team_members.c.team_id).where(
                team_members.c.operator_id == operator_id,
                team_members.c.team_id.in_(sorted(principal.lead_team_ids)),
            )
        )
        if led is None:
            raise Forbidden("Only admins and the manager's team lead set targets", "not_team_lead")
    stmt = insert(SalesTarget).values(
        operator_id=operator_id, deals_per_week=deals_per_week, updated_by=principal.operator_id
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[SalesTarget.operator_id],
            set_={"deals_per_week": deals_per_week, "updated_by": principal.operator_id},
        )
    )
