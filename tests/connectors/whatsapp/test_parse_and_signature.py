"""Pure translation: signatures and every webhook kind the connector supports."""

import json
from datetime import UTC, datetime

import pytest

from connectors.base import InboundMessage, StatusUpdate
from connectors.whatsapp.parse import InvalidPayload, parse_webhook
from connectors.whatsapp.signature import sign, verify_signature
from tests.whatsapp.support import envelope, fixture, status, text_message


def test_signature() -> None:
    body = json.dumps(fixture("webhook_text")).encode()
    good = sign("secret", body)
    assert good.startswith("sha256=") and len(good) == 7 + 64
    assert verify_signature("secret", body, good)
    assert verify_signature("secret", body, good.upper().replace("SHA256=", "sha256="))
    assert not verify_signature("other", body, good)
    assert not verify_signature("secret", body + b" ", good)
    assert not verify_signature("secret", body, None)
    assert not verify_signature("secret", body, "")
    assert not verify_signature("", body, sign("", body))  # no secret configured: refuse


def one(payload: dict) -> InboundMessage:
    [event] = parse_webhook(payload)
    assert isinstance(event.event, InboundMessage)
    return event.event


def test_text_fills_sender() -> None:
    [event] = parse_webhook(fixture("webhook_text", recent=False))
    assert event.phone_number_id == "106540352242922"
    msg = event.event
    assert isinstance(msg, InboundMessage)
    assert msg.external_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
    assert msg.sender.external_id == "16505551234"
    assert msg.sender.name == "Kerry Fisher"
    assert msg.sender.phone == "+16505551234"
    assert msg.text == "Hi, is my order #4521 on its way?"
    assert msg.sent_at == datetime.fromtimestamp(1763884800, UTC)


def test_username_only_contact() -> None:
    msg = one(fixture("webhook_username_only"))
    assert msg.sender.external_id == "US.13491208655302741918"
    assert msg.sender.phone is None
    assert msg.sender.name == "Mira K."
    assert msg.meta["user_id"] == "US.13491208655302741918"


@pytest.mark.parametrize("mtype", ["image", "audio", "video", "document", "sticker"])
def test_media_keeps_id(mtype: str) -> None:
    body = {"id": "MEDIA1", "mime_type": "application/pdf", "sha256": "abc"}
    if mtype == "document":
        body.update(filename="invoice.pdf", caption="the invoice")
    m = {"from": "1", "id": f"wamid.{mtype}", "timestamp": "1", "type": mtype, mtype: body}
    msg = one(envelope([m], wa_id="1"))
    assert msg.kind == mtype
    assert msg.attachments[0]["media_id"] == "MEDIA1"
    assert msg.attachments[0]["type"] == mtype
    if mtype == "document":
        assert msg.attachments[0]["filename"] == "invoice.pdf"
        assert msg.text == "the invoice"


def test_buttons_contacts_reactions_context() -> None:
    reply = one(fixture("webhook_reply_button"))
    assert reply.kind == "button"
    assert reply.meta["button"] == {
        "id": "courier:4521:ok",
        "title": "Yes, that works",
        "source": "button_reply",
    }
    assert reply.reply_to_external_id == (
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI5QjFFNkM1NUYyMkZEOUY1QzEA"
    )
    quick = one(fixture("webhook_template_button"))
    assert quick.kind == "button" and quick.text == "Excellent"
    assert quick.meta["button"]["id"] == "FEEDBACK_5"
    card = {
        "from": "1",
        "id": "wamid.c",
        "timestamp": "1",
        "type": "contacts",
        "contacts": [{"name": {"formatted_name": "Ana Lima"}, "phones": [{"phone": "+351"}]}],
    }
    shared = one(envelope([card], wa_id="1"))
    assert shared.kind == "contacts" and shared.text == "Ana Lima"
    assert shared.meta["contacts"][0]["phones"] == [{"phone": "+351"}]
    react = {
        "from": "1",
        "id": "wamid.r",
        "timestamp": "1",
        "type": "reaction",
        "reaction": {"message_id": "wamid.x", "emoji": ""},
    }
    removed = one(envelope([react], wa_id="1"))
    assert removed.kind == "reaction" and removed.text is None
    assert removed.reply_to_external_id == "wamid.x"


def test_unsupported_is_kept_raw() -> None:
    raw = {
        "from": "1",
        "id": "wamid.u",
        "timestamp": "1",
        "type": "unsupported",
        "errors": [{"code": 131051, "title": "Message type unknown"}],
    }
    msg = one(envelope([raw], wa_id="1"))
    assert msg.kind == "unsupported"
    assert msg.meta["raw"] == raw


def test_statuses_in_order_with_errors() -> None:
    events = [e.event for e in parse_webhook(fixture("webhook_statuses"))]
    assert [e.state for e in events if isinstance(e, StatusUpdate)] == [
        "delivered",
        "sent",
        "read",
    ]
    [failed] = [e.event for e in parse_webhook(fixture("webhook_status_failed"))]
    assert isinstance(failed, StatusUpdate)
    assert (failed.state, failed.error_code, failed.error_title) == (
        "failed",
        "131047",
        "Re-engagement message",
    )


def test_batch_order_and_other_payloads() -> None:
    payload = envelope(
        [text_message("wamid.1", "a"), text_message("wamid.2", "b")],
        [status("wamid.9", "deleted"), status("wamid.9", "read")],
    )
    second = envelope([text_message("wamid.3", "c")])
    payload["entry"].append(second["entry"][0])
    ids = [
        e.event.external_id if isinstance(e.event, InboundMessage) else e.event.state
        for e in parse_webhook(payload)
    ]
    assert ids == ["wamid.1", "wamid.2", "read", "wamid.3"]  # "deleted" has no state of ours
    assert parse_webhook({"object": "page", "entry": []}) == []
    with pytest.raises(InvalidPayload):
        parse_webhook([1, 2])
