"""Files an operator sends to a web-chat visitor: the visitor's history (and socket) lists
each with a signed link that opens it without any token; the link cannot be guessed, is
only good for its file, and expires."""

import asyncio
from typing import Any

import websockets

from app.attachments import service as attachments_service
from tests.attachments.support import PDF, PNG, uploaded
from tests.conftest import LiveServer, Running
from tests.helpers import auth, create_webchat, recv_event, visitor_post, visitor_session


async def visitor_with_reply(run: Running) -> dict[str, Any]:
    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    visitor = (await visitor_session(run.client, key, name="Vera"))["visitor_token"]
    r = await visitor_post(run.client, key, visitor, "Can I see the invoice?")
    conv_id = r.json()["message"]["conversation_id"]
    invoice = await uploaded(run.client, auth(admin), "invoice.pdf", PDF)
    photo = await uploaded(run.client, auth(admin), "box.png", PNG)
    r = await run.client.post(
        f"/api/v1/conversations/{conv_id}/messages",
        json={"text": "Here it is", "attachment_ids": [invoice["id"], photo["id"]]},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    return {
        "admin": admin,
        "key": key,
        "visitor": visitor,
        "message_id": r.json()["id"],
        "invoice": invoice,
        "photo": photo,
    }


async def visitor_messages(run: Running, key: str, token: str) -> list[dict[str, Any]]:
    r = await run.client.get(f"/widget/v1/{key}/messages", headers=auth(token))
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def sent_reply(run: Running, w: dict[str, Any]) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:  # visible to the visitor once the dispatcher recorded it as sent
            for m in await visitor_messages(run, w["key"], w["visitor"]):
                if m["id"] == w["message_id"]:
                    return m
            await asyncio.sleep(0.05)


async def test_the_visitor_gets_working_links(run: Running) -> None:
    w = await visitor_with_reply(run)
    reply = await sent_reply(run, w)
    assert reply["text"] == "Here it is"
    invoice, photo = reply["attachments"]
    assert (invoice["filename"], invoice["content_type"], invoice["type"]) == (
        "invoice.pdf",
        "application/pdf",
        "document",
    )
    assert photo["filename"] == "box.png"
    for item, content in ((invoice, PDF), (photo, PNG)):
        assert item["url"].startswith("/files/")
        r = await run.client.get(item["url"])  # no token at all
        assert r.status_code == 200, r.text
        assert r.content == content
        assert r.headers["content-type"] == item["content_type"]
        assert r.headers["content-disposition"].startswith("attachment;")


async def test_links_cannot_be_guessed_or_reused_for_another_file(run: Running) -> None:
    w = await visitor_with_reply(run)
    reply = await sent_reply(run, w)
    link = reply["attachments"][0]["url"]
    # Another visitor of the same widget sees nothing of it.
    other = (await visitor_session(run.client, w["key"], name="Otto"))["visitor_token"]
    await visitor_post(run.client, w["key"], other, "hello")
    assert all(m["id"] != w["message_id"] for m in await visitor_messages(run, w["key"], other))
    ids = [w["invoice"]["id"], w["photo"]["id"]]
    token = link.removeprefix("/files/")
    guesses = [
        *(f"/files/{i}" for i in ids),  # the file's id is not a link
        f"/files/{token[:-2]}{'AB' if token[-2:] != 'AB' else 'CD'}",  # altered signature
        "/files/" + token.split(".")[0] + ".e30." + token.split(".")[2],  # swapped claims
        "/files/" + attachments_service.link_token("not-our-key" * 4, ids[0], 600),
        "/files/" + attachments_service.link_token(run.ctx.signing_key, "nope", 600),
    ]
    for url in guesses:
        for headers in ({}, auth(w["visitor"]), auth(other)):
            r = await run.client.get(url, headers=headers)
            assert r.status_code == 404, (url, r.text)
            assert r.json()["error"]["code"] in ("unknown_link", "unknown_attachment")
    # The operator API does not take a visitor's token.
    for token_ in (w["visitor"], other):
        r = await run.client.get(f"/api/v1/attachments/{ids[0]}", headers=auth(token_))
        assert r.status_code == 401, r.text
    expired = attachments_service.link_token(run.ctx.signing_key, ids[0], -5)
    r = await run.client.get(f"/files/{expired}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "link_expired", r.text


async def test_the_visitor_socket_carries_the_links(live: LiveServer) -> None:
    run = Running(app=None, ctx=live.ctx, client=live.client)  # type: ignore[arg-type]
    admin = await run.admin_token()
    key = (await create_webchat(live.client, admin))["public_key"]
    visitor = (await visitor_session(live.client, key))["visitor_token"]
    r = await visitor_post(live.client, key, visitor, "hi")
    conv_id = r.json()["message"]["conversation_id"]
    photo = await uploaded(live.client, auth(admin), "box.png", PNG)
    url = f"{live.ws_url}/widget/v1/{key}/ws?token={visitor}"
    async with websockets.connect(url, open_timeout=5) as ws:
        while (await recv_event(ws, 10))["type"] != "ready":
            pass
        r = await live.client.post(
            f"/api/v1/conversations/{conv_id}/messages",
            json={"attachment_ids": [photo["id"]]},
            headers=auth(admin),
        )
        assert r.status_code == 201, r.text
        async with asyncio.timeout(10):
            while True:
                event = await recv_event(ws, 10)
                if event["type"] == "message.created" and event["data"]["id"] == r.json()["id"]:
                    break
    [item] = event["data"]["attachments"]
    assert event["data"]["text"] is None
    got = await live.client.get(item["url"])
    assert got.status_code == 200 and got.content == PNG
