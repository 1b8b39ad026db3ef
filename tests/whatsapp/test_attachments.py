"""Uploaded files through the outbox to the fake Graph API: each is uploaded to
/{phone-number-id}/media and sent by media id, as an image or a document, the text as the
first file's caption; a retry after a later part failed sends no file twice."""

from typing import Any

from tests.attachments.support import PDF, PNG, uploaded
from tests.conftest import Running
from tests.helpers import auth
from tests.whatsapp.fake_graph import GRAPH, PHONE_NUMBER_ID, TOKEN, FakeGraph
from tests.whatsapp.support import CLIENT, reply, wait_for_state
from tests.whatsapp.test_outbound import _conversation


async def send_files(
    run: Running, admin: str, conv_id: int, text: str | None = None
) -> dict[str, Any]:
    photo = await uploaded(run.client, auth(admin), "box.png", PNG)
    invoice = await uploaded(run.client, auth(admin), "invoice.pdf", PDF)
    body: dict[str, Any] = {"attachment_ids": [photo["id"], invoice["id"]]}
    if text is not None:
        body["text"] = text
    r = await reply(run.client, admin, conv_id, **body)
    assert r.status_code == 201, r.text
    return await wait_for_state(run.client, admin, conv_id, r.json()["id"], ("sent", "failed"))


def media_uploads(graph: FakeGraph) -> list[Any]:
    return [r for r in graph.requests if r.path.endswith("/media")]


async def test_an_image_and_a_document_are_uploaded_and_sent_by_media_id(
    run: Running, graph: FakeGraph
) -> None:
    admin = await run.admin_token()
    conv_id = await _conversation(run, admin, graph)
    message = await send_files(run, admin, conv_id, "Your box and the invoice")
    assert message["delivery_state"] == "sent", message
    uploads = media_uploads(graph)
    assert [u.path for u in uploads] == [f"/v23.0/{PHONE_NUMBER_ID}/media"] * 2
    assert all(u.authorization == f"Bearer {TOKEN}" for u in uploads)
    assert [(u.body["type"], u.body["filename"]) for u in uploads] == [
        ("image/png", "box.png"),
        ("application/pdf", "invoice.pdf"),
    ]
    assert graph.uploads["media-1"].content == PNG
    assert graph.uploads["media-2"].content == PDF
    image, document = graph.sends
    assert image.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CLIENT,
        "type": "image",
        "image": {"id": "media-1", "caption": "Your box and the invoice"},
    }
    assert document.body["type"] == "document"
    assert document.body["document"] == {"id": "media-2", "filename": "invoice.pdf"}
    assert len(graph.sends) == 2  # no separate text message


async def test_a_retry_after_the_document_failed_sends_the_image_once(
    run: Running, graph: FakeGraph
) -> None:
    admin = await run.admin_token()
    conv_id = await _conversation(run, admin, graph)
    # The image is accepted; the document's send hits the rate limit once.
    graph.send_answers = [(200, GRAPH["send_ok"]), (400, GRAPH["error_rate_limit"])]
    message = await send_files(run, admin, conv_id, "caption")
    assert message["delivery_state"] == "sent", message
    kinds = [s.body["type"] for s in graph.sends]
    assert kinds == ["image", "document", "document"], kinds
    assert graph.sends[0].body["image"]["caption"] == "caption"


async def test_files_without_text(run: Running, graph: FakeGraph) -> None:
    admin = await run.admin_token()
    conv_id = await _conversation(run, admin, graph)
    message = await send_files(run, admin, conv_id)
    assert message["delivery_state"] == "sent", message
    assert [s.body["type"] for s in graph.sends] == ["image", "document"]
    assert "caption" not in graph.sends[0].body["image"]
