"""Team visibility beyond the conversation list (issue 16, item 4): an operator of team
Support sees nothing of team Sales' clients, touches, channel, settings or figures, unless
the client is theirs; a team's figures are for its lead. The world is the authorization
matrix's: Sales' conversation waits unassigned, the operator leads Sales, other_operator is
a plain member of Sales, the outsider is only in Support."""

import csv
import io
from typing import Any

import pytest

from tests.conftest import Running
from tests.helpers import auth
from tests.operators.test_authorization import World, error_of, make_world


@pytest.fixture
async def world(run: Running) -> World:
    return await make_world(run)


async def get(world: World, token: str, url: str) -> Any:
    r = await world.run.client.get(url, headers=auth(token))
    assert r.status_code == 200, r.text
    return r


async def test_lists_hold_nothing_of_another_teams_clients(world: World) -> None:
    sales_contact = world.contact_id
    for token, sees in ((world.operator, True), (world.admin, True), (world.outsider, False)):
        touches = (await get(world, token, "/api/v1/touchpoints")).json()["items"]
        assert any(t["contact_id"] == sales_contact for t in touches) is sees
        by_contact = await get(world, token, f"/api/v1/touchpoints?contact_id={sales_contact}")
        assert bool(by_contact.json()["items"]) is sees
        export = await get(world, token, "/api/v1/touchpoints/export.csv")
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert any(r["contact_id"] == str(sales_contact) for r in rows) is sees
        contacts = (await get(world, token, "/api/v1/contacts?q=Vera")).json()["items"]
        assert [c["id"] for c in contacts] == ([sales_contact] if sees else [])
        channels = {c["id"] for c in (await get(world, token, "/api/v1/channels")).json()}
        assert (world.channel_a_id in channels) is sees
        assert world.channel_b_id in channels  # a channel of no team is everyone's


async def test_an_owner_sees_their_client_not_another_teams_conversation(world: World) -> None:
    client = world.run.client
    r = await client.patch(
        f"/api/v1/contacts/{world.contact_id}",
        json={"owner_id": world.outsider_id},
        headers=auth(world.admin),
    )
    assert r.status_code == 200, r.text
    card = await get(world, world.outsider, f"/api/v1/contacts/{world.contact_id}")
    assert card.json()["owner_id"] == world.outsider_id
    timeline = await get(world, world.outsider, f"/api/v1/contacts/{world.contact_id}/timeline")
    # The message's touch belongs to Sales' conversation, which stays theirs.
    assert world.touchpoint_id not in {t["id"] for t in timeline.json()}
    r = await client.get(
        f"/api/v1/conversations/{world.conversation_id}", headers=auth(world.outsider)
    )
    error_of(r, 403, "not_your_conversation")


async def test_a_teams_figures_are_for_its_lead_an_operator_gets_their_own(world: World) -> None:
    client = world.run.client
    # A call the lead made with the client: the lead's figure, not the plain member's.
    r = await client.post(
        "/api/v1/touchpoints",
        json={"contact_id": world.contact_id, "kind": "call", "operator_id": world.operator_id},
        headers=auth(world.admin),
    )
    assert r.status_code == 201, r.text
    report = "/api/v1/analytics/touches-per-client"
    member = world.other_operator
    own = (await get(world, member, report)).json()
    as_admin = (
        await get(world, world.admin, f"{report}?operator_id={world.other_operator_id}")
    ).json()
    everyone = (await get(world, world.admin, report)).json()
    assert own["touches"] == as_admin["touches"] < everyone["touches"]
    assert (await get(world, member, f"{report}?operator_id={world.other_operator_id}")).json()[
        "touches"
    ] == own["touches"]

    for token, url, code in (
        (member, f"{report}?team_id={world.team_id}", "not_team_lead"),
        (member, f"{report}?operator_id={world.operator_id}", "not_yourself"),
        (world.operator, f"{report}?team_id={world.support_team_id}", "not_team_lead"),
        (world.outsider, f"/api/v1/analytics/rates?team_id={world.team_id}", "not_team_lead"),
    ):
        error_of(await client.get(url, headers=auth(token)), 403, code)
    lead = (await get(world, world.operator, f"{report}?team_id={world.team_id}")).json()
    assert lead["touches"] >= 1


async def test_a_chat_handed_over_from_another_team_brings_its_channel(world: World) -> None:
    client, channel = world.run.client, world.channel_a_id
    r = await client.get(f"/api/v1/channels/{channel}/templates", headers=auth(world.outsider))
    error_of(r, 403, "not_your_team")
    r = await client.post(
        f"/api/v1/conversations/{world.conversation_id}/assign",
        json={"assignee_id": world.outsider_id},
        headers=auth(world.admin),
    )
    assert r.status_code == 200, r.text
    await get(world, world.outsider, f"/api/v1/channels/{channel}/templates")
    listed = (await get(world, world.outsider, "/api/v1/channels")).json()
    assert channel in {c["id"] for c in listed}
    # Its settings stay Sales' own.
    r = await client.get(f"/api/v1/teams/{world.team_id}/routing", headers=auth(world.outsider))
    error_of(r, 403, "not_your_team")
