"""The out-of-office reply over WhatsApp: as free text inside the 24-hour window, and as the
approved template mapped to "out_of_office" when the client's message arrives after its
window closed (WhatsApp delivers late messages with their own timestamp)."""

from typing import Any

import pytest

from tests.chains.support import drain
from tests.conftest import Running
from tests.helpers import auth
from tests.whatsapp.conftest import graph
from tests.whatsapp.fake_graph import FakeGraph
from tests.whatsapp.support import create_whatsapp, fixture, post_webhook

__all__ = ["graph"]  # the fixture, for pytest

TEMPLATES = [{"name": "we_are_closed", "language": "en", "parameters": 0}]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def closed_whatsapp(
    run: Running, fake: FakeGraph, *, recent: bool = False, **settings: Any
) -> None:
    """A WhatsApp number of an always-closed team; the client writes (`recent`: now, else
    with the recorded, long-past timestamp), and the outbox is sent."""
    admin = await run.admin_token()
    r = await run.client.post("/api/v1/teams", json={"name": "Sales"}, headers=auth(admin))
    team = r.json()["id"]
    channel = await create_whatsapp(run.client, admin, fake, **settings)
    r = await run.client.patch(
        f"/api/v1/channels/{channel['id']}", json={"team_id": team}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    r = await run.client.put(
        f"/api/v1/channels/{channel['id']}/auto-replies",
        json={"out_of_office": {"en": "We are closed", "ru": "Мы закрыты"}},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text
    r = await run.client.put(  # an enabled schedule without hours: always closed
        f"/api/v1/teams/{team}/business-hours",
        json={"enabled": True, "timezone": "UTC"},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text
    r = await post_webhook(run.client, channel["id"], fixture("webhook_text", recent=recent))
    assert r.status_code == 200, r.text
    await drain(run.ctx)


async def test_a_late_message_gets_the_approved_template(run: Running, graph: FakeGraph) -> None:
    await closed_whatsapp(
        run, graph, templates=TEMPLATES, chain_templates={"out_of_office": "we_are_closed"}
    )
    [send] = graph.sends
    assert send.body["type"] == "template"
    assert send.body["template"]["name"] == "we_are_closed"


async def test_without_a_template_nothing_is_sent_outside_the_window(
    run: Running, graph: FakeGraph
) -> None:
    await closed_whatsapp(run, graph)
    assert graph.sends == []


async def test_inside_the_window_it_is_text(run: Running, graph: FakeGraph) -> None:
    await closed_whatsapp(run, graph, recent=True)
    [send] = graph.sends
    assert send.body["type"] == "text"
    assert send.body["text"]["body"] == "We are closed"
