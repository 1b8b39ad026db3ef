"""Which contact an order goes to: only an identity someone vouches for ties a shop's order
to a person who writes to us. A widget visitor who merely types an email is not the owner
of that email's orders (issue 16, item 2)."""

import copy
from typing import Any

from connectors.webchat.connector import identity_hash
from tests.chains.support import FAST, drain, post_event, put_order, rows, shop_key
from tests.conftest import Running
from tests.helpers import auth, create_webchat, visitor_post, visitor_session
from tests.telegram.fake_bot_api import FakeBotApi, load_update
from tests.telegram.helpers import create_bot, deliver, secret_of

CAROL = "carol@example.com"


async def widget_history(run: Running, key: str, token: str) -> list[dict[str, Any]]:
    r = await run.client.get(f"/widget/v1/{key}/messages?after=0", headers=auth(token))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_a_visitor_who_types_someone_elses_email_gets_none_of_their_orders(
    run: Running,
) -> None:
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    shop = await shop_key(run.client, admin)
    # A stranger opens the widget claiming Carol's email, and writes.
    stranger = await visitor_session(run.client, key, name="Mallory", email=CAROL)
    r = await visitor_post(run.client, key, stranger["visitor_token"], "hello", "m-1")
    assert r.status_code == 201, r.text

    # Carol's shop posts her order.
    order = await put_order(run.client, shop, "C-77", client={"email": CAROL, "name": "Carol"})
    assert order["contact_id"] != stranger["contact_id"]
    r = await post_event(run.client, shop, "C-77", "e-1", "accepted")
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "flagged"  # nothing can reach Carol yet
    await drain(run.ctx)

    history = await widget_history(run, key, stranger["visitor_token"])
    assert [m["direction"] for m in history] == ["inbound"], history
    assert not any("C-77" in (m["text"] or "") or "/track/" in (m["text"] or "") for m in history)
    # The order's contact holds the shop's data; the stranger's card is untouched.
    stored = await rows(
        run.ctx,
        "SELECT id, name, email, email_verified FROM contacts WHERE id IN (:a, :b) ORDER BY id",
        a=stranger["contact_id"],
        b=order["contact_id"],
    )
    assert [tuple(r) for r in stored] == [
        (stranger["contact_id"], "Mallory", CAROL, False),
        (order["contact_id"], "Carol", CAROL, True),
    ]

    # Carol's next order finds the contact the shop's data made, not the stranger.
    again = await put_order(run.client, shop, "C-78", client={"email": CAROL.upper()})
    assert again["contact_id"] == order["contact_id"]


async def test_a_proven_widget_identity_still_gets_its_orders(run: Running) -> None:
    admin = await run.admin_token()
    channel = await create_webchat(run.client, admin)
    key, secret = channel["public_key"], channel["generated_credentials"]["identity_secret"]
    shop = await shop_key(run.client, admin)
    carol = await visitor_session(
        run.client,
        key,
        identifier="carol-1",
        identifier_hash=identity_hash(secret, "carol-1"),
        email=CAROL,
    )
    r = await visitor_post(run.client, key, carol["visitor_token"], "where is my order", "m-1")
    assert r.status_code == 201, r.text
    order = await put_order(run.client, shop, "C-90", client={"widget_identifier": "carol-1"})
    assert order["contact_id"] == carol["contact_id"]
    r = await post_event(run.client, shop, "C-90", "e-1", "accepted")
    assert r.json()["outcome"] == "sent", r.text
    await drain(run.ctx)
    history = await widget_history(run, key, carol["visitor_token"])
    assert any("C-90" in (m["text"] or "") for m in history), history
    # Her typed email still vouches for nothing: an order by email alone is another contact.
    by_email = await put_order(run.client, shop, "C-91", client={"email": CAROL})
    assert by_email["contact_id"] != carol["contact_id"]


async def test_a_phone_telegram_vouches_for_finds_the_client_a_forwarded_card_does_not(
    run: Running, fake_api: FakeBotApi
) -> None:
    """A Telegram user who shares their own contact is known by that phone; a contact card
    of someone else, forwarded by another user, vouches for nothing."""
    admin = await run.admin_token()
    bot = await create_bot(run.client, admin, **FAST)
    shop = await shop_key(run.client, admin)
    own = load_update("update_contact")  # Anna shares her own number
    assert (await deliver(run.client, bot["id"], own, secret_of(fake_api))).status_code == 200
    forwarded = copy.deepcopy(own)
    forwarded["update_id"] += 1
    forwarded["message"]["message_id"] += 1
    for where in ("from", "chat"):
        forwarded["message"][where]["id"] = 700000001  # Boris forwards a card
    forwarded["message"]["contact"]["phone_number"] = "+79160000001"
    assert (await deliver(run.client, bot["id"], forwarded, secret_of(fake_api))).status_code == 200
    anna = await rows(
        run.ctx,
        "SELECT ci.contact_id FROM contact_identities ci WHERE ci.external_id = '518003941'",
    )
    order = await put_order(run.client, shop, "T-1", client={"phone": "+7 916 123-45-67"})
    assert order["contact_id"] == anna[0][0]
    other = await put_order(run.client, shop, "T-2", client={"phone": "+79160000001"})
    boris = await rows(
        run.ctx,
        "SELECT ci.contact_id FROM contact_identities ci WHERE ci.external_id = '700000001'",
    )
    assert other["contact_id"] != boris[0][0]
