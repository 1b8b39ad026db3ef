"""The connector against the fake Graph API: payloads, error mapping, media."""

import pytest

from connectors.base import (
    MediaUnavailable,
    OutboundMessage,
    PermanentError,
    TemporaryError,
)
from connectors.whatsapp.connector import WhatsAppConnector
from tests.whatsapp.fake_graph import GRAPH, PHONE_NUMBER_ID, TOKEN, FakeGraph, graph_api_base

CREDS = {"phone_number_id": PHONE_NUMBER_ID, "access_token": TOKEN}


def settings(graph: FakeGraph) -> dict[str, str]:
    return {"graph_api_base": graph_api_base(graph)}


async def test_text_media_and_bsuid(graph: FakeGraph) -> None:
    wa = WhatsAppConnector()
    result = await wa.send(CREDS, settings(graph), OutboundMessage(1, "16505551234", "Hi"))
    assert result.provider_message_id == "wamid.fake.1"
    media = OutboundMessage(
        2,
        "US.13491208655302741918",
        "The invoice",
        attachments=[
            {"type": "document", "link": "https://shop.example/i.pdf", "filename": "i.pdf"}
        ],
    )
    await wa.send(CREDS, settings(graph), media)
    first, second = graph.sends
    assert first.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert first.authorization == f"Bearer {TOKEN}"
    assert first.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "type": "text",
        "text": {"body": "Hi", "preview_url": False},
    }
    # A username-only contact is addressed by its business-scoped user id.
    assert "to" not in second.body
    assert second.body["recipient"] == "US.13491208655302741918"
    assert second.body["document"] == {
        "link": "https://shop.example/i.pdf",
        "caption": "The invoice",
        "filename": "i.pdf",
    }


@pytest.mark.parametrize(
    ("status", "answer", "kind", "unreachable"),
    [
        (400, GRAPH["error_rate_limit"], TemporaryError, None),
        (400, GRAPH["error_reengagement"], PermanentError, False),
        (400, GRAPH["error_undeliverable"], PermanentError, True),
        (401, GRAPH["error_invalid_token"], PermanentError, False),
        (400, {"error": {"code": 131030, "message": "not in allowed list"}}, PermanentError, True),
        (502, "<html>bad gateway</html>", TemporaryError, None),
        (429, {}, TemporaryError, None),
        (400, {"error": {"code": 999999, "message": "new"}}, PermanentError, False),
    ],
)
async def test_error_mapping(
    graph: FakeGraph, status: int, answer: object, kind: type, unreachable: bool | None
) -> None:
    graph.send_answers = [(status, answer)]
    with pytest.raises(kind) as caught:
        await WhatsAppConnector().send(CREDS, settings(graph), OutboundMessage(1, "1", "x"))
    if unreachable is not None:
        assert caught.value.recipient_unreachable is unreachable
    assert "WhatsApp" in caught.value.reason


async def test_timeout_and_unreachable_server(graph: FakeGraph) -> None:
    graph.send_answers = [("sleep", 1.0)]
    with pytest.raises(TemporaryError, match="timed out"):
        await WhatsAppConnector(timeout=0.2).send(
            CREDS, settings(graph), OutboundMessage(1, "1", "x")
        )
    with pytest.raises(TemporaryError, match="unreachable"):
        await WhatsAppConnector().send(
            CREDS, {"graph_api_base": "http://127.0.0.1:9/v23.0"}, OutboundMessage(1, "1", "x")
        )


async def test_fetch_media(graph: FakeGraph) -> None:
    graph.media["M1"] = (b"OggS-voice", "audio/ogg")
    media = await WhatsAppConnector().fetch_media(
        CREDS, settings(graph), {"type": "audio", "media_id": "M1"}
    )
    assert media.content == b"OggS-voice" and media.content_type == "audio/ogg"
    with pytest.raises(MediaUnavailable):
        await WhatsAppConnector().fetch_media(CREDS, settings(graph), {"media_id": "gone"})
    with pytest.raises(MediaUnavailable):
        await WhatsAppConnector().fetch_media(
            {**CREDS, "access_token": "wrong"}, settings(graph), {"media_id": "M1"}
        )
