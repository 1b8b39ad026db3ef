"""Two teams' conversations with contacts and messages, written straight to the database
(the search reads what ingest wrote; how it got there does not matter here)."""

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import auth, create_webchat


@dataclass
class World:
    admin: str
    sales_operator: str
    support_operator: str
    sales: int
    support: int
    channel: int


async def _operator_id(run: Running, email: str) -> int:
    async with run.ctx.sessions() as session:
        found = await session.scalar(
            text("SELECT id FROM operators WHERE email = :e"), {"e": email}
        )
        assert found is not None
        return int(found)


async def _team(run: Running, admin: str, name: str, member: int) -> int:
    r = await run.client.post(
        "/api/v1/teams", json={"name": name, "member_ids": [member]}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.fixture
async def world(run: Running) -> World:
    admin = await run.admin_token()
    sales_op = await run.operator_token("sales@example.com")
    support_op = await run.operator_token("support@example.com")
    sales = await _team(run, admin, "Sales", await _operator_id(run, "sales@example.com"))
    support = await _team(run, admin, "Support", await _operator_id(run, "support@example.com"))
    channel = await create_webchat(run.client, admin)
    return World(admin, sales_op, support_op, sales, support, int(channel["id"]))


async def add_conversation(
    run: Running,
    world: World,
    *,
    team: int,
    name: str,
    phone: str | None = None,
    email: str | None = None,
    external_id: str | None = None,
    messages: tuple[str, ...] = (),
) -> dict[str, Any]:
    async with run.ctx.sessions() as session:
        contact = await session.scalar(
            text("INSERT INTO contacts (name, phone, email) VALUES (:n, :p, :e) RETURNING id"),
            {"n": name, "p": phone, "e": email},
        )
        identity = await session.scalar(
            text(
                "INSERT INTO contact_identities (contact_id, channel_account_id, external_id)"
                " VALUES (:c, :ch, :x) RETURNING id"
            ),
            {"c": contact, "ch": world.channel, "x": external_id or f"visitor:{contact}"},
        )
        conversation = await session.scalar(
            text(
                "INSERT INTO conversations (contact_id, channel_account_id, identity_id, team_id)"
                " VALUES (:c, :ch, :i, :t) RETURNING id"
            ),
            {"c": contact, "ch": world.channel, "i": identity, "t": team},
        )
        ids = []
        for body in messages:
            ids.append(
                await session.scalar(
                    text(
                        "INSERT INTO messages (conversation_id, channel_account_id, contact_id,"
                        " direction, sender_type, text) VALUES (:v, :ch, :c, 'inbound',"
                        " 'contact', :t) RETURNING id"
                    ),
                    {"v": conversation, "ch": world.channel, "c": contact, "t": body},
                )
            )
        await session.commit()
    return {"contact": contact, "conversation": conversation, "messages": ids}
