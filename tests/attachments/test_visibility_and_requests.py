"""Who may download or send an upload (its uploader, and whoever sees a conversation where a
message carries it), and request bodies that name unknown fields or files: 422, nothing
written, never silently dropped."""

from typing import Any

import pytest
from sqlalchemy import text

from app.operators import scopes
from tests.attachments.support import PDF, PNG, uploaded
from tests.conftest import Running
from tests.helpers import auth
from tests.operators.test_authorization import World, make_world


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}  # what is sent does not matter here


@pytest.fixture
async def w(run: Running) -> World:
    return await make_world(run)


async def count(run: Running, table: str) -> int:
    async with run.ctx.sessions() as s:
        return int(await s.scalar(text(f"SELECT count(*) FROM {table}")) or 0)


async def status_of(w: World, token: str | dict[str, str], url: str) -> int:
    headers = auth(token) if isinstance(token, str) else token
    return (await w.run.client.get(url, headers=headers)).status_code


async def test_an_upload_is_seen_by_its_uploader_and_where_a_message_carries_it(
    w: World,
) -> None:
    client = w.run.client
    # The operator (team Sales) uploads: before any message carries it, it is theirs alone.
    invoice = await uploaded(client, auth(w.operator), "invoice.pdf", PDF)
    url = invoice["url"]
    assert await status_of(w, w.operator, url) == 200
    for someone_else in (w.other_operator, w.outsider):
        assert await status_of(w, someone_else, url) == 404
    assert await status_of(w, w.admin, url) == 200
    assert (
        await status_of(w, {"X-Api-Key": await w.key_with(scopes.CONVERSATIONS_READ)}, url) == 200
    )

    # Sent in the Sales conversation: the Sales team sees it; Support's operator does not.
    r = await client.post(
        f"/api/v1/conversations/{w.conversation_id}/messages",
        json={"text": "The invoice", "attachment_ids": [invoice["id"]]},
        headers=auth(w.operator),
    )
    assert r.status_code == 201, r.text
    message = r.json()
    [item] = message["attachments"]
    assert item["url"] == f"/api/v1/messages/{message['id']}/attachments/0"
    assert item["id"] == invoice["id"]
    for token in (w.operator, w.other_operator):
        assert await status_of(w, token, url) == 200
        got = await client.get(item["url"], headers=auth(token))
        assert got.status_code == 200 and got.content == PDF
    assert await status_of(w, w.outsider, url) == 404
    assert await status_of(w, w.outsider, item["url"]) == 403

    # The outsider cannot send it either (it is not theirs to use): nothing is written.
    support = await _support_conversation(w)
    messages_before = await count(w.run, "messages")
    r = await client.post(
        f"/api/v1/conversations/{support}/messages",
        json={"text": "look", "attachment_ids": [invoice["id"]]},
        headers=auth(w.outsider),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_attachment", r.text
    assert await count(w.run, "messages") == messages_before

    # Assigned to the outsider, the conversation (and so the file) is theirs.
    r = await client.post(
        f"/api/v1/conversations/{w.conversation_id}/assign",
        json={"assignee_id": w.outsider_id},
        headers=auth(w.admin),
    )
    assert r.status_code == 200, r.text
    assert await status_of(w, w.outsider, url) == 200
    assert await status_of(w, w.other_operator, url) == 404


async def _support_conversation(w: World) -> int:
    from tests.helpers import visitor_post, visitor_session
    from tests.operators.test_authorization import create_team_webchat

    channel = await create_team_webchat(w.run.client, w.admin, w.support_team_id)
    token = (await visitor_session(w.run.client, channel["public_key"]))["visitor_token"]
    r = await visitor_post(w.run.client, channel["public_key"], token, "hi support")
    return int(r.json()["message"]["conversation_id"])


async def test_unknown_fields_are_refused_and_nothing_is_written(w: World) -> None:
    """The defect: a reply with `attachments` answered 201 and went out as plain text."""
    client = w.run.client
    reply_url = f"/api/v1/conversations/{w.conversation_id}/messages"
    send = {"idempotency_key": "k1", "text": "hi", "conversation_id": w.conversation_id}
    key = {"X-Api-Key": await w.key_with(None)}
    messages_before = await count(w.run, "messages")
    refused: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
        (reply_url, {"text": "hi", "attachments": ["a1"]}, auth(w.admin), "attachments"),
        (reply_url, {"text": "hi", "private": True, "file": "x"}, auth(w.admin), "file"),
        ("/api/v1/messages", send | {"attachments": ["a1"]}, key, "attachments"),
        ("/api/v1/messages", send | {"unknown": 1}, key, "unknown"),
        (
            reply_url,
            {"template": {"name": "t", "language": "en", "params": ["x"]}},
            auth(w.admin),
            "params",
        ),
        (
            f"/api/v1/conversations/{w.conversation_id}/assign",
            {"assignee_id": None, "team": w.team_id},
            auth(w.admin),
            "team",
        ),
        (
            f"/widget/v1/{w.widget_a}/messages",
            {"text": "hi", "attachments": ["x"]},
            auth(w.visitor),
            "attachments",
        ),
    ]
    for url, body, headers, field in refused:
        r = await client.post(url, json=body, headers=headers)
        assert r.status_code == 422, (body, r.text)
        error = r.json()["error"]
        assert error["code"] == "invalid", r.text
        assert any(d["loc"][-1] == field for d in error["details"]), r.text
    assert await count(w.run, "messages") == messages_before
    # The same requests without the stray field go through.
    r = await client.post(reply_url, json={"text": "hi"}, headers=auth(w.admin))
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/messages", json=send, headers=key)
    assert r.status_code == 201, r.text


async def test_unknown_or_repeated_files_are_refused(w: World) -> None:
    client = w.run.client
    photo = await uploaded(client, auth(w.admin), "box.png", PNG)
    reply_url = f"/api/v1/conversations/{w.conversation_id}/messages"
    send = {"idempotency_key": "k1", "text": "hi", "conversation_id": w.conversation_id}
    key = {"X-Api-Key": await w.key_with(None)}
    messages_before = await count(w.run, "messages")
    refused: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
        (reply_url, {"attachment_ids": ["nope"]}, auth(w.admin), "unknown_attachment"),
        ("/api/v1/messages", send | {"attachment_ids": ["nope"]}, key, "unknown_attachment"),
        (reply_url, {"attachment_ids": [photo["id"], photo["id"]]}, auth(w.admin), "invalid"),
        (reply_url, {"attachment_ids": []}, auth(w.admin), "invalid"),
        (reply_url, {"attachment_ids": ["x"] * 11}, auth(w.admin), "invalid"),
    ]
    for url, body, headers, code in refused:
        r = await client.post(url, json=body, headers=headers)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == code, (body, r.text)
    assert await count(w.run, "messages") == messages_before
    assert await count(w.run, "message_attachments") == 0
    r = await client.post(reply_url, json={"attachment_ids": [photo["id"]]}, headers=auth(w.admin))
    assert r.status_code == 201, r.text
    assert (r.json()["kind"], r.json()["text"]) == ("image", None)
    assert await count(w.run, "message_attachments") == 1
