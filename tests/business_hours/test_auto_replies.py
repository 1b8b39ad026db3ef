"""Out-of-office replies go once per conversation per off-hours period, greetings once per
conversation, in the contact's language, through the outbox; concurrent messages from the
client still get exactly one."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import auth, statements_sent, visitor_post, visitor_session


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


def weekday_before(days: int) -> int:
    """The ISO weekday `days` days before today (UTC)."""
    return (datetime.now(UTC).isoweekday() - 1 - days) % 7 + 1


async def setup_channel(run: Running, texts: dict[str, dict[str, str]]) -> tuple[str, int, int]:
    """A widget of a team with the given reply texts: (public key, channel id, team id)."""
    admin = await admin_of(run)
    r = await run.client.post("/api/v1/teams", json={"name": "Sales"}, headers=auth(admin))
    assert r.status_code == 201, r.text
    team = int(r.json()["id"])
    r = await run.client.post(
        "/api/v1/channels",
        json={"type": "webchat", "name": "Site", "team_id": team},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    channel = r.json()
    r = await run.client.put(
        f"/api/v1/channels/{channel['id']}/auto-replies", json=texts, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    return channel["public_key"], int(channel["id"]), team


_admins: dict[int, str] = {}


async def admin_of(run: Running) -> str:
    """One admin per test's app (run.admin_token creates the operator)."""
    if id(run) not in _admins:
        _admins[id(run)] = await run.admin_token()
    return _admins[id(run)]


async def set_schedule(run: Running, team: int, schedule: list[dict[str, Any]]) -> None:
    admin = await admin_of(run)
    r = await run.client.put(
        f"/api/v1/teams/{team}/business-hours",
        json={"enabled": True, "timezone": "UTC", "schedule": schedule},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text


async def auto_replies(run: Running, channel: int, kind: str) -> list[tuple[int, str]]:
    """(conversation, text) of the channel's automatic replies of a kind, each with its
    outbox row."""
    async with run.ctx.sessions() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT m.conversation_id, m.text FROM messages m "
                    "JOIN outbox o ON o.message_id = m.id "
                    "WHERE m.channel_account_id = :c AND m.meta->>'auto_reply' = :k "
                    "ORDER BY m.id"
                ),
                {"c": channel, "k": kind},
            )
        ).all()
    return [(r[0], r[1]) for r in rows]


# Open for an hour three days ago, closed since.
CLOSED_SINCE_DAYS_AGO = [{"weekday": weekday_before(3), "opens": "10:00", "closes": "11:00"}]
OOO = {"out_of_office": {"en": "We are closed, back soon", "ru": "Мы закрыты, скоро вернёмся"}}


async def test_out_of_office_once_per_period(run: Running) -> None:
    key, channel, team = await setup_channel(run, OOO)
    await set_schedule(run, team, CLOSED_SINCE_DAYS_AGO)
    visitor = (await visitor_session(run.client, key))["visitor_token"]
    for n in range(2):
        r = await visitor_post(run.client, key, visitor, f"Hello {n}", f"m{n}")
        assert r.status_code == 201, r.text
    replies = await auto_replies(run, channel, "out_of_office")
    assert [t for _, t in replies] == ["We are closed, back soon"]

    # The team opened yesterday (all day) and closed at midnight: this is a new off-hours
    # period, so one more reply, and again only one.
    await set_schedule(
        run,
        team,
        [
            *CLOSED_SINCE_DAYS_AGO,
            {"weekday": weekday_before(1), "opens": "00:00", "closes": "24:00"},
        ],
    )
    for n in range(2, 4):
        r = await visitor_post(run.client, key, visitor, f"Hello {n}", f"m{n}")
        assert r.status_code == 201, r.text
    assert len(await auto_replies(run, channel, "out_of_office")) == 2


async def test_no_out_of_office_while_open_or_without_a_schedule(run: Running) -> None:
    key, channel, team = await setup_channel(run, OOO)
    visitor = (await visitor_session(run.client, key))["visitor_token"]
    r = await visitor_post(run.client, key, visitor, "Hello", "a")
    assert r.status_code == 201, r.text
    await set_schedule(
        run, team, [{"weekday": d, "opens": "00:00", "closes": "24:00"} for d in range(1, 8)]
    )
    r = await visitor_post(run.client, key, visitor, "Hello again", "b")
    assert r.status_code == 201, r.text
    assert await auto_replies(run, channel, "out_of_office") == []


async def test_the_reply_is_in_the_contacts_language(run: Running) -> None:
    key, channel, team = await setup_channel(run, OOO)
    await set_schedule(run, team, CLOSED_SINCE_DAYS_AGO)
    visitor = (await visitor_session(run.client, key))["visitor_token"]
    r = await visitor_post(run.client, key, visitor, "Добрый вечер", "ru")
    assert r.status_code == 201, r.text
    assert [t for _, t in await auto_replies(run, channel, "out_of_office")] == [
        "Мы закрыты, скоро вернёмся"
    ]


async def test_concurrent_messages_get_one_out_of_office_reply(run: Running) -> None:
    key, channel, team = await setup_channel(run, OOO)
    visitor = (await visitor_session(run.client, key))["visitor_token"]
    r = await visitor_post(run.client, key, visitor, "First, while open", "first")
    assert r.status_code == 201, r.text
    await set_schedule(run, team, CLOSED_SINCE_DAYS_AGO)
    results = await asyncio.gather(
        *(visitor_post(run.client, key, visitor, f"Burst {n}", f"burst-{n}") for n in range(8))
    )
    assert [r.status_code for r in results] == [201] * 8
    assert len(await auto_replies(run, channel, "out_of_office")) == 1


async def test_a_greeting_once_per_new_conversation(run: Running) -> None:
    key, channel, _ = await setup_channel(run, {"greeting": {"en": "Hi! How can we help?"}})
    first = (await visitor_session(run.client, key))["visitor_token"]
    for n in range(3):
        r = await visitor_post(run.client, key, first, f"Hello {n}", f"g{n}")
        assert r.status_code == 201, r.text
    # A burst from another new client opens one conversation: one greeting.
    second = (await visitor_session(run.client, key))["visitor_token"]
    results = await asyncio.gather(
        *(visitor_post(run.client, key, second, f"Hey {n}", f"h{n}") for n in range(6))
    )
    assert [r.status_code for r in results] == [201] * 6
    greetings = await auto_replies(run, channel, "greeting")
    assert [t for _, t in greetings] == ["Hi! How can we help?"] * 2
    assert len({c for c, _ in greetings}) == 2


async def test_the_ingest_tells_the_handlers_which_texts_exist(run: Running) -> None:
    """Most channels have no automatic replies: the ingest's own statement says so, and a
    client's message costs no lookup of the texts. Texts set later are seen by the very
    next message (the ingest reads them in the statement that stores it)."""
    key, channel, team = await setup_channel(run, {})
    await set_schedule(run, team, CLOSED_SINCE_DAYS_AGO)
    visitor = (await visitor_session(run.client, key))["visitor_token"]
    with statements_sent(run.ctx.engine) as statements:
        for n in range(2):  # a new conversation (greeting too), then one that continues
            r = await visitor_post(run.client, key, visitor, f"Hello {n}", f"q{n}")
            assert r.status_code == 201, r.text
    assert any("chatcentre_ingest_message" in s for s in statements)
    assert not [s for s in statements if "FROM auto_reply_texts" in s]
    assert await auto_replies(run, channel, "out_of_office") == []

    admin = await admin_of(run)
    r = await run.client.put(
        f"/api/v1/channels/{channel}/auto-replies", json=OOO, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    r = await visitor_post(run.client, key, visitor, "Anyone there?", "q2")
    assert r.status_code == 201, r.text
    assert [t for _, t in await auto_replies(run, channel, "out_of_office")] == [
        "We are closed, back soon"
    ]
