"""A channel's team must exist: 422 unknown_team, not a foreign-key 500 (schemathesis found
POST /api/v1/channels with a random team_id answering 500)."""

from tests.conftest import Running
from tests.helpers import auth


async def test_an_unknown_team_is_a_422_and_stores_nothing(run: Running) -> None:
    admin = await run.admin_token()
    body = {"type": "webchat", "name": "Site", "team_id": 7_050_878}
    r = await run.client.post("/api/v1/channels", json=body, headers=auth(admin))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "unknown_team"
    r = await run.client.get("/api/v1/channels", headers=auth(admin))
    assert r.json() == []

    team = await run.client.post("/api/v1/teams", json={"name": "Sales"}, headers=auth(admin))
    body["team_id"] = team.json()["id"]
    r = await run.client.post("/api/v1/channels", json=body, headers=auth(admin))
    assert r.status_code == 201 and r.json()["team_id"] == body["team_id"], r.text
    channel_id = r.json()["id"]

    r = await run.client.patch(
        f"/api/v1/channels/{channel_id}", json={"team_id": 7_050_878}, headers=auth(admin)
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_team", r.text
    r = await run.client.patch(
        f"/api/v1/channels/{channel_id}", json={"team_id": None}, headers=auth(admin)
    )
    assert r.status_code == 200 and r.json()["team_id"] is None, r.text
