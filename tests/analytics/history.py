"""Building a sales history directly in the database: the analytics read what the rest of
the system writes, so the tests write the same rows with exactly the values they need."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount
from app.contacts.models import Contact, ContactIdentity
from app.inbox.models import Conversation, ConversationStatus
from app.operators.models import Operator, Team, team_members
from app.surveys.models import Survey
from app.touchpoints.models import Reaction, TouchKind, Touchpoint
from tests.conftest import Running
from tests.helpers import auth

T = datetime(2026, 3, 2, tzinfo=UTC)  # the start of every test's range
RANGE = {"from": T.isoformat(), "to": (T + timedelta(days=10)).isoformat()}


def day(n: float) -> datetime:
    return T + timedelta(days=n)


class History:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._identities: dict[tuple[int, int], int] = {}

    async def _add(self, row: Any) -> int:
        self.session.add(row)
        await self.session.flush()
        return int(row.id)

    async def operator(self, name: str) -> int:
        return await self._add(
            Operator(email=f"{name.lower()}@example.com", name=name, password_hash="x")
        )

    async def team(self, name: str, members: list[int]) -> int:
        team_id = await self._add(Team(name=name))
        for operator_id in members:
            await self.session.execute(
                team_members.insert().values(team_id=team_id, operator_id=operator_id)
            )
        return team_id

    async def channel(self, type_: str) -> int:
        return await self._add(ChannelAccount(type=type_, name=type_, public_key=f"key-{type_}"))

    async def contact(
        self,
        owner: int | None = None,
        stage: str = "lead",
        created: datetime = T,
        changed: datetime | None = None,
        converted: datetime | None = None,
        touch: int | None = None,
        name: str | None = None,
    ) -> int:
        return await self._add(
            Contact(
                name=name,
                owner_id=owner,
                stage=stage,
                created_at=created,
                stage_changed_at=changed,
                converted_at=converted,
                conversion_touch=touch,
            )
        )

    async def conversation(
        self,
        contact: int,
        channel: int,
        assignee: int | None = None,
        created: datetime = T,
        assigned: datetime | None = None,
        first_response: datetime | None = None,
        resolved: datetime | None = None,
    ) -> int:
        key = (contact, channel)
        if key not in self._identities:
            self._identities[key] = await self._add(
                ContactIdentity(
                    contact_id=contact, channel_account_id=channel, external_id=str(key)
                )
            )
        return await self._add(
            Conversation(
                contact_id=contact,
                channel_account_id=channel,
                identity_id=self._identities[key],
                assignee_id=assignee,
                status=ConversationStatus.resolved,  # never the one active conversation
                created_at=created,
                assigned_at=assigned,
                first_response_at=first_response,
                resolved_at=resolved,
            )
        )

    async def touch(
        self,
        contact: int,
        at: datetime,
        kind: str = "message",
        channel: str = "telegram",
        direction: str = "outbound",
        operator: int | None = None,
        conversation: int | None = None,
        chain: str | None = None,
        step: str | None = None,
        reaction: str = "unknown",
    ) -> int:
        return await self._add(
            Touchpoint(
                contact_id=contact,
                occurred_at=at,
                kind=TouchKind(kind),
                channel=channel,
                direction=direction,
                operator_id=operator,
                conversation_id=conversation,
                chain=chain,
                step=step,
                reaction=Reaction(reaction),
            )
        )

    async def touches(self, contact: int, ats: list[datetime], **fields: Any) -> None:
        for at in ats:
            await self.touch(contact, at, **fields)

    async def survey(self, conversation: int, rating: int | None, answered: datetime | None) -> int:
        conv = await self.session.get(Conversation, conversation)
        assert conv is not None
        return await self._add(
            Survey(
                conversation_id=conversation,
                contact_id=conv.contact_id,
                channel_account_id=conv.channel_account_id,
                sent_at=answered or T,
                answered_at=answered,
                rating=rating,
            )
        )


async def report(
    run: Running, token: str, name: str, expect: int = 200, **params: Any
) -> dict[str, Any]:
    query = {**RANGE, **params}
    r: httpx.Response = await run.client.get(
        f"/api/v1/analytics/{name}", params=query, headers=auth(token)
    )
    assert r.status_code == expect, r.text
    data: dict[str, Any] = r.json()
    return data
