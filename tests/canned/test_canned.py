"""Canned responses over the API: who sees and changes personal, team and shared ones, the
short code's uniqueness, variables checked at save and filled in by the render endpoint
(and by the service an automation calls)."""

from typing import Any

import httpx

from app.canned import service as canned_service
from tests.conftest import Running
from tests.helpers import auth, visitor_post, visitor_session
from tests.operators.test_authorization import make_world

URL = "/api/v1/canned-responses"


async def _create(client: httpx.AsyncClient, token: str, **body: Any) -> httpx.Response:
    return await client.post(URL, json=body, headers=auth(token))


async def _codes(client: httpx.AsyncClient, token: str, query: str = "") -> list[str]:
    r = await client.get(f"{URL}{query}", headers=auth(token))
    assert r.status_code == 200, r.text
    return [c["short_code"] for c in r.json()]


async def test_who_sees_and_changes_which(run: Running) -> None:
    w = await make_world(run)
    c = run.client

    mine = await _create(c, w.operator, short_code="hello", content="Hi {{contact.first_name}}")
    assert mine.status_code == 201, mine.text
    assert mine.json()["scope"] == "personal" and mine.json()["owner_id"] == w.operator_id
    # The code is unique per owner ignoring case; another operator may have their own.
    r = await _create(c, w.operator, short_code="HELLO", content="again")
    assert r.status_code == 409 and r.json()["error"]["code"] == "short_code_taken"
    assert (
        await _create(c, w.other_operator, short_code="hello", content="Hey")
    ).status_code == 201

    team = await _create(
        c, w.operator, scope="team", team_id=w.team_id, short_code="price", content="Prices: ..."
    )
    assert team.status_code == 201, team.text
    r = await _create(
        c, w.outsider, scope="team", team_id=w.team_id, short_code="x", content="Not mine"
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_team"
    r = await _create(c, w.operator, scope="team", short_code="x", content="which team?")
    assert r.status_code == 422

    r = await _create(c, w.operator, scope="shared", short_code="bye", content="Bye")
    assert r.status_code == 403 and r.json()["error"]["code"] == "admins_only"
    shared = await _create(c, w.admin, scope="shared", short_code="bye", content="Goodbye!")
    assert shared.status_code == 201
    # The same code in another scope is another response.
    assert (
        await _create(c, w.admin, scope="shared", short_code="hello", content="Hi")
    ).status_code == 201

    assert await _codes(c, w.operator) == ["bye", "hello", "hello", "price"]
    assert await _codes(c, w.other_operator) == ["bye", "hello", "hello", "price"]
    assert await _codes(c, w.outsider) == ["bye", "hello"]
    assert await _codes(c, w.admin) == ["bye", "hello", "price"]  # no one's personal ones
    assert await _codes(c, w.operator, "?q=HEL") == ["hello", "hello"]
    assert await _codes(c, w.operator, "?q=goodbye") == ["bye"]
    assert await _codes(c, w.operator, "?scope=team") == ["price"]

    mine_id, team_id, shared_id = mine.json()["id"], team.json()["id"], shared.json()["id"]
    for who in (w.other_operator, w.admin, w.outsider):
        r = await c.get(f"{URL}/{mine_id}", headers=auth(who))
        assert r.status_code == 404
    r = await c.get(f"{URL}/{team_id}", headers=auth(w.outsider))
    assert r.status_code == 404

    # A team's member edits the team's; an operator cannot touch a shared one.
    r = await c.patch(
        f"{URL}/{team_id}", json={"content": "New prices"}, headers=auth(w.other_operator)
    )
    assert r.status_code == 200 and r.json()["content"] == "New prices"
    r = await c.patch(f"{URL}/{shared_id}", json={"content": "Bye"}, headers=auth(w.operator))
    assert r.status_code == 403
    r = await c.delete(f"{URL}/{shared_id}", headers=auth(w.operator))
    assert r.status_code == 403
    r = await c.delete(f"{URL}/{mine_id}", headers=auth(w.operator))
    assert r.status_code == 204
    r = await c.delete(f"{URL}/{shared_id}", headers=auth(w.admin))
    assert r.status_code == 204

    r = await c.get("/api/v1/audit-log", headers=auth(w.admin))
    audited = [
        (e["action"], e["target_id"])
        for e in r.json()["items"]
        if e["action"].startswith("canned_response.")
    ]
    assert (("canned_response.create", mine_id)) not in audited
    assert ("canned_response.create", team_id) in audited
    assert ("canned_response.update", team_id) in audited
    assert ("canned_response.delete", shared_id) in audited


async def test_unknown_variables_are_refused_at_save(run: Running) -> None:
    w = await make_world(run)
    c = run.client
    r = await _create(c, w.operator, short_code="t", content="Hi {{ contact.nmae }} {{client}}")
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "unknown_variable"
    assert error["details"]["unknown"] == ["client", "contact.nmae"]
    assert "contact.name" in error["details"]["known"]
    r = await _create(c, w.operator, short_code="t", content="Hi {{contact.name}")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_template"

    ok = await _create(c, w.operator, short_code="t", content="Hi {{contact.name}}")
    r = await c.patch(
        f"{URL}/{ok.json()['id']}", json={"content": "Hi {{order.nmber}}"}, headers=auth(w.operator)
    )
    assert r.status_code == 422
    r = await c.get(f"{URL}/{ok.json()['id']}", headers=auth(w.operator))
    assert r.json()["content"] == "Hi {{contact.name}}"
    r = await c.get(f"{URL}/variables", headers=auth(w.operator))
    assert "order.number" in [v["name"] for v in r.json()]


async def test_render_fills_the_conversations_values(run: Running) -> None:
    w = await make_world(run)
    c = run.client
    text = (
        "Hello {{contact.first_name}} ({{ contact.name }}), {{operator.first_name}} here. "
        "Order {{order.number}}: {{order.status}}. #{{conversation.id}}"
    )
    shared = await _create(c, w.admin, scope="shared", short_code="status", content=text)
    assert shared.status_code == 201, shared.text
    render = f"{URL}/{shared.json()['id']}/render"

    r = await c.post(render, json={"conversation_id": w.conversation_id}, headers=auth(w.operator))
    assert r.status_code == 200, r.text
    # The world's visitor is "Vera"; the operator logs in as op@example.com (name "op");
    # the order auth-order was put without a status yet.
    assert r.json()["text"] == (
        f"Hello Vera (Vera), op here. Order auth-order: . #{w.conversation_id}"
    )
    # A newer order is the one named.
    r = await c.put(
        "/api/v1/orders/auth-order-2",
        json={"client": {"contact_id": w.contact_id}},
        headers=auth(w.admin),
    )
    assert r.status_code == 201, r.text
    r = await c.post(render, json={"conversation_id": w.conversation_id}, headers=auth(w.operator))
    assert "Order auth-order-2:" in r.json()["text"]

    # Only for a conversation the caller sees.
    r = await c.post(render, json={"conversation_id": w.conversation_id}, headers=auth(w.outsider))
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_conversation"

    # A client without orders: the variable is empty; the service writes as the assignee
    # (nobody here), which is how an automation calls it.
    visitor = await visitor_session(c, w.widget_b, name="Ivan Petrov")
    sent = await visitor_post(c, w.widget_b, visitor["visitor_token"], "Hi", "ivan-1")
    conversation_id = sent.json()["message"]["conversation_id"]
    async with run.ctx.sessions() as session:
        rendered = await canned_service.render(session, shared.json()["id"], conversation_id)
    assert rendered == f"Hello Ivan (Ivan Petrov),  here. Order : . #{conversation_id}"
