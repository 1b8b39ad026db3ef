"""GET /api/v1/conversations carries each conversation's last message (sender, preview,
time), read in the list's own query."""

from tests.conftest import Running
from tests.helpers import auth
from tests.search.conftest import World, add_conversation


async def test_the_list_shows_the_last_message(run: Running, world: World) -> None:
    talked = await add_conversation(
        run, world, team=world.sales, name="A", messages=("first", "где заказ? " + "x" * 300)
    )
    silent = await add_conversation(run, world, team=world.sales, name="B")
    r = await run.client.get("/api/v1/conversations", headers=auth(world.admin))
    assert r.status_code == 200, r.text
    by_id = {c["id"]: c for c in r.json()["items"]}
    last = by_id[talked["conversation"]]["last_message"]
    assert last["sender_type"] == "contact"
    assert last["preview"].startswith("где заказ? ") and len(last["preview"]) == 140
    assert by_id[silent["conversation"]]["last_message"] is None
