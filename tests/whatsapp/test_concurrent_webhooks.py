"""Meta posts webhooks in parallel, several senders per body: two bodies naming the same two
senders in opposite order, posted at the same moment, are both stored (no deadlock)."""

import asyncio

from tests.conftest import Running
from tests.whatsapp.fake_graph import FakeGraph
from tests.whatsapp.support import count, create_whatsapp, envelope, post_webhook, text_message

ANNA, BORIS = "16505550001", "16505550002"
ROUNDS = 25


def two_senders(first: str, second: str, tag: str) -> dict[str, object]:
    body = envelope([text_message(f"wamid.{tag}.{first}", f"{tag} from {first}", frm=first)])
    other = envelope(
        [text_message(f"wamid.{tag}.{second}", f"{tag} from {second}", frm=second)],
        wa_id=second,
    )
    value = body["entry"][0]["changes"][0]["value"]
    other_value = other["entry"][0]["changes"][0]["value"]
    value["contacts"] += other_value["contacts"]
    value["messages"] += other_value["messages"]
    return body


async def test_parallel_bodies_with_senders_in_opposite_order(
    run: Running, graph: FakeGraph
) -> None:
    admin = await run.admin_token()
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    # Both conversations exist first: the race is on the senders' rows, not on opening.
    for sender in (ANNA, BORIS):
        body = envelope([text_message(f"wamid.hello.{sender}", "hello", frm=sender)])
        assert (await post_webhook(run.client, channel_id, body)).status_code == 200
    for n in range(ROUNDS):
        answers = await asyncio.gather(
            post_webhook(run.client, channel_id, two_senders(ANNA, BORIS, f"r{n}a")),
            post_webhook(run.client, channel_id, two_senders(BORIS, ANNA, f"r{n}b")),
        )
        assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
        assert all(r.json()["messages"] == 2 for r in answers)
    assert await count(run.ctx, "messages") == 2 + 4 * ROUNDS
