"""GET /api/v1/webhooks/events lists what an endpoint can subscribe to (the console builds its
checkboxes from it): exactly the names the create route accepts."""

from app.webhooks.events import SUBSCRIBABLE
from tests.conftest import Running
from tests.helpers import auth


async def test_the_events_route_lists_what_an_endpoint_accepts(run: Running) -> None:
    admin = await run.admin_token()
    r = await run.client.get("/api/v1/webhooks/events", headers=auth(admin))
    assert r.status_code == 200
    names = [e["name"] for e in r.json()]
    assert names == list(SUBSCRIBABLE) and len(names) == len(set(names))

    made = await run.client.post(
        "/api/v1/webhooks",
        headers=auth(admin),
        json={"url": "https://crm.example/hook", "events": names},
    )
    assert made.status_code == 201, made.text
    assert made.json()["events"] == names

    # A name it does not list is refused.
    bad = await run.client.post(
        "/api/v1/webhooks",
        headers=auth(admin),
        json={"url": "https://crm.example/hook", "events": ["message.deleted"]},
    )
    assert bad.status_code == 422
