"""A back-dated sales history for the head of sales' reports: the analytics' History, plus
what these reports read (priority levels, categories, orders, team leads)."""

from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import update

from app.chains.models import Order
from app.contacts.models import Contact
from app.operators.models import Team
from tests.analytics.history import RANGE, History, T, day
from tests.conftest import Running
from tests.helpers import auth

__all__ = ["RANGE", "Sales", "T", "day", "get"]


class Sales(History):
    async def client(
        self,
        owner: int | None,
        level: int | None = None,
        category: str | None = None,
        **fields: Any,
    ) -> int:
        contact = await self.contact(owner, **fields)
        await self.session.execute(
            update(Contact)
            .where(Contact.id == contact)
            .values(priority_level=level, category=category)
        )
        return contact

    async def order(self, contact: int, at: datetime, amount: Any, status: str = "accepted") -> int:
        return await self._add(
            Order(
                external_id=f"o-{contact}-{at.isoformat()}-{amount}",
                contact_id=contact,
                amount=amount,
                status=status,
                tracking_token=f"t-{contact}-{at.timestamp()}-{amount}",
                created_at=at,
            )
        )

    async def lead(self, team: int, operator: int) -> None:
        await self.session.execute(update(Team).where(Team.id == team).values(lead_id=operator))


async def get(
    run: Running, token: str, path: str, expect: int = 200, **params: Any
) -> dict[str, Any]:
    r: httpx.Response = await run.client.get(
        f"/api/v1/{path}", params={"timezone": "UTC", **params}, headers=auth(token)
    )
    assert r.status_code == expect, r.text
    data: dict[str, Any] = r.json()
    return data
