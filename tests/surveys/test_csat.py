"""CSAT (issue 6): resolving asks for a rating; the answer sets reactions and feeds SR."""

from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import auth, visitor_post, visitor_session


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def csat_channel(run: Running, admin: str, enabled: bool = True) -> str:
    r = await run.client.post(
        "/api/v1/channels",
        json={"type": "webchat", "name": "Site", "settings": {"csat_enabled": enabled}},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["public_key"])


async def chat_and_resolve(run: Running, admin: str, key: str) -> tuple[str, int]:
    token = (await visitor_session(run.client, key))["visitor_token"]
    conv = (await visitor_post(run.client, key, token, "Help!")).json()["message"][
        "conversation_id"
    ]
    await run.client.post(
        f"/api/v1/conversations/{conv}/messages", json={"text": "Done!"}, headers=auth(admin)
    )
    r = await run.client.post(
        f"/api/v1/conversations/{conv}/status", json={"status": "resolved"}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    return token, conv


async def rows(run: Running, sql: str, **params: Any) -> list[Any]:
    async with run.ctx.sessions() as s:
        return list((await s.execute(text(sql), params)).all())


async def test_rating_answer_sets_reactions_and_survey(run: Running) -> None:
    admin = await run.admin_token()
    key = await csat_channel(run, admin)
    token, conv = await chat_and_resolve(run, admin, key)

    (request,) = await rows(
        run,
        "SELECT text, meta, sender_type FROM messages WHERE kind = 'text' AND "
        "sender_type = 'system'",
    )
    assert "1" in request.text and request.meta["buttons"][0][4]["data"] == "csat:5"
    # Resolving again does not ask twice.
    await run.client.post(
        f"/api/v1/conversations/{conv}/status", json={"status": "open"}, headers=auth(admin)
    )
    await run.client.post(
        f"/api/v1/conversations/{conv}/status", json={"status": "resolved"}, headers=auth(admin)
    )
    assert len(await rows(run, "SELECT id FROM surveys")) == 1

    r = await visitor_post(run.client, key, token, "5")
    assert r.status_code == 201
    assert r.json()["message"]["conversation_id"] == conv  # no new conversation
    r = await run.client.get("/api/v1/analytics/rates", headers=auth(admin))
    satisfaction = r.json()["satisfaction"]
    assert (satisfaction["answers"], satisfaction["positive"], satisfaction["sr"]) == (1, 1, 1.0)
    (survey,) = await rows(run, "SELECT rating, answered_at FROM surveys")
    assert survey.rating == 5 and survey.answered_at is not None
    kinds = await rows(
        run, "SELECT kind, reaction FROM touchpoints WHERE conversation_id = :c ORDER BY id", c=conv
    )
    assert ("survey", "positive") in kinds  # the answer itself
    # Every touch of the conversation that had no reaction now carries the client's.
    assert {k.reaction for k in kinds} == {"positive"}
    assert len(await rows(run, "SELECT id FROM conversations")) == 1

    # A later "3" is an ordinary message: the survey is answered.
    r = await visitor_post(run.client, key, token, "3")
    assert r.json()["message"]["conversation_id"] != conv
    (survey,) = await rows(run, "SELECT rating FROM surveys")
    assert survey.rating == 5


async def test_low_rating_is_negative_and_other_text_is_a_message(run: Running) -> None:
    admin = await run.admin_token()
    key = await csat_channel(run, admin)
    token, conv = await chat_and_resolve(run, admin, key)
    r = await visitor_post(run.client, key, token, "I have another question")
    assert r.json()["message"]["conversation_id"] != conv
    # With an open conversation, a bare "2" belongs to it, not to the old survey.
    r = await visitor_post(run.client, key, token, "2")
    assert r.json()["message"]["conversation_id"] != conv
    (survey,) = await rows(run, "SELECT rating FROM surveys")
    assert survey.rating is None

    token2, conv2 = await chat_and_resolve(run, admin, key)
    await visitor_post(run.client, key, token2, "1")
    reactions = await rows(
        run, "SELECT DISTINCT reaction FROM touchpoints WHERE conversation_id = :c", c=conv2
    )
    assert [r.reaction for r in reactions] == ["negative"]

    # The answers feed SR: one survey rated 1 (the first survey was never answered).
    r = await run.client.get("/api/v1/analytics/rates", headers=auth(admin))
    satisfaction = r.json()["satisfaction"]
    assert (satisfaction["answers"], satisfaction["positive"], satisfaction["sr"]) == (1, 0, 0.0)


async def test_disabled_by_default(run: Running) -> None:
    admin = await run.admin_token()
    key = await csat_channel(run, admin, enabled=False)
    await chat_and_resolve(run, admin, key)
    assert await rows(run, "SELECT id FROM surveys") == []
