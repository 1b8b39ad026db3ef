"""Sends through the outbox against the fake Graph API: retries, permanent failures, media."""

from typing import Any

import pytest

from tests.conftest import Running
from tests.helpers import auth
from tests.whatsapp.fake_graph import GRAPH, FakeGraph
from tests.whatsapp.support import (
    count,
    create_whatsapp,
    fixture,
    messages_of,
    only_conversation,
    post_webhook,
    reply,
    wait_for_state,
)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"outbox_max_attempts": 4}


async def _conversation(run: Running, admin: str, graph: FakeGraph) -> int:
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    await post_webhook(run.client, channel_id, fixture("webhook_text"))
    conversation_id: int = (await only_conversation(run.client, admin))["id"]
    return conversation_id


async def test_rate_limit_and_5xx_are_retried(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    conv_id = await _conversation(run, admin, graph)
    graph.send_answers = [(400, GRAPH["error_rate_limit"]), (503, {"error": {"code": 2}})]
    r = await reply(run.client, admin, conv_id, text="Hello")
    m = await wait_for_state(run.client, admin, conv_id, r.json()["id"], ("sent", "failed"))
    assert m["delivery_state"] == "sent"
    assert len(graph.sends) == 3  # 130429, 503, then accepted
    assert {s.body["text"]["body"] for s in graph.sends} == {"Hello"}


async def test_timeout_is_retried(run: Running, graph: FakeGraph) -> None:
    from app.whatsapp import service as whatsapp_service

    admin = await run.admin_token()
    conv_id = await _conversation(run, admin, graph)
    # A short client timeout, so a slow Graph answer counts as a timeout.
    whatsapp_service.configure_connector(
        run.ctx.settings.model_copy(update={"whatsapp_timeout_seconds": 0.3})
    )
    try:
        graph.send_answers = [("sleep", 1.0)]
        r = await reply(run.client, admin, conv_id, text="Slow")
        m = await wait_for_state(run.client, admin, conv_id, r.json()["id"], ("sent", "failed"))
    finally:
        whatsapp_service.configure_connector(run.ctx.settings)
    assert m["delivery_state"] == "sent"
    assert len(graph.sends) == 2


@pytest.mark.parametrize(
    ("answer", "reason", "unreachable"),
    [
        ("error_reengagement", "WhatsApp 131047: more than 24 hours", False),
        ("error_undeliverable", "WhatsApp 131026: message undeliverable", True),
        ("error_invalid_token", "WhatsApp 190: the access token expired", False),
    ],
)
async def test_permanent_errors_fail_at_once(
    run: Running, graph: FakeGraph, answer: str, reason: str, unreachable: bool
) -> None:
    admin = await run.admin_token()
    conv_id = await _conversation(run, admin, graph)
    graph.send_answers = [(400, GRAPH[answer])]
    r = await reply(run.client, admin, conv_id, text="Hello")
    m = await wait_for_state(run.client, admin, conv_id, r.json()["id"], ("failed",))
    assert m["failure_reason"].startswith(reason)
    assert len(graph.sends) == 1  # never retried
    assert await count(run.ctx, "touchpoints", "kind = 'delivery_failure'") == 1
    assert await count(run.ctx, "contact_identities", "NOT reachable") == int(unreachable)


async def test_operator_downloads_media(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    channel_id = (await create_whatsapp(run.client, admin, graph))["id"]
    graph.media["1003383421387256"] = (b"\xff\xd8\xffJPEG-bytes", "image/jpeg")
    await post_webhook(run.client, channel_id, fixture("webhook_image"))
    conv_id = (await only_conversation(run.client, admin))["id"]
    [image] = await messages_of(run.client, admin, conv_id)
    r = await run.client.get(f"/api/v1/messages/{image['id']}/attachments/0", headers=auth(admin))
    assert r.status_code == 200
    assert r.content == b"\xff\xd8\xffJPEG-bytes"
    assert r.headers["content-type"] == "image/jpeg"
    # Both the URL lookup and the download carried the channel's token.
    paths = [(q.path, q.authorization) for q in graph.requests if q.method == "GET"]
    assert paths == [
        ("/v23.0/1003383421387256", "Bearer EAAG-test-access-token"),
        ("/download/1003383421387256", "Bearer EAAG-test-access-token"),
    ]

    del graph.media["1003383421387256"]  # Meta keeps inbound media for a limited time
    r = await run.client.get(f"/api/v1/messages/{image['id']}/attachments/0", headers=auth(admin))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "media_unavailable"


async def test_a_long_text_goes_out_as_several_messages_in_order(
    run: Running, graph: FakeGraph
) -> None:
    """WhatsApp takes 4096 characters per text: a longer reply is split when queued."""
    admin = await run.admin_token()
    conv_id = await _conversation(run, admin, graph)
    text = ("Ваш заказ собран и передан в доставку.\n" * 40 + "\n") * 3  # 4,800 characters
    r = await reply(run.client, admin, conv_id, text=text)
    assert r.status_code == 201, r.text
    sends = await graph.wait_for_sends(2)
    assert all(len(s.body["text"]["body"]) <= 4096 for s in sends)
    assert "".join(s.body["text"]["body"] for s in sends) == text
    assert sends[0].body["text"]["body"].endswith("\n\n")  # cut between paragraphs
