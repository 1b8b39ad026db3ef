"""The audit log of admin actions. Written in the caller's transaction, so an action and its
entry commit together."""

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry

# Keys whose values are never written to the log (only that they changed).
SECRET_KEYS = frozenset({"password", "credentials", "key", "token", "secret"})


def redact(changes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key in SECRET_KEYS or any(s in key for s in ("password", "secret", "token")):
            out[key] = sorted(value) if isinstance(value, dict) else "<changed>"
        else:
            out[key] = value
    return out


async def record(
    session: AsyncSession,
    *,
    actor_kind: str,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(
            actor_kind=actor_kind,
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            ip=ip,
            details=redact(details or {}),
        )
    )


async def list_entries(
    session: AsyncSession, *, before: int | None, limit: int, action: str | None
) -> list[AuditEntry]:
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before is not None:
        q = q.where(AuditEntry.id < before)
    if action:
        q = q.where(AuditEntry.action == action)
    return list((await session.scalars(q)).all())
