"""Channel plugins (app/channels/plugin.py): a channel type this codebase has never heard of,
registered in a test, works end to end with no migration and no edit anywhere else: created
through the API (its settings model checked on create and PATCH, its setup and teardown
run), a message ingested on it (its rule for when the client wrote), a reply sent through
its connector (its rule for what may be sent). Plus the public list of channel types."""

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import registry
from app.channels.models import ChannelAccount
from app.channels.plugin import ChannelPlugin, ChannelSettings, Prepared, ReplyWindow
from app.config import Settings
from app.delivery.dispatcher import Dispatcher
from app.inbox.models import Conversation
from app.ingest.service import ingest
from connectors import registry as connectors
from connectors.base import (
    Capabilities,
    InboundMessage,
    Media,
    MediaUnavailable,
    OutboundMessage,
    Sender,
    SendResult,
)
from tests.conftest import Running
from tests.helpers import auth


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}  # the test drives the dispatcher


class FakeConnector:
    channel_type = "fake"
    capabilities = Capabilities(
        media=False,
        edits=False,
        templates=False,
        typing=False,
        read_receipts=False,
        reply_window=True,
        initiates=False,
        max_text_length=None,
    )
    rate_per_account: str | None = None
    rate_per_chat: str | None = None
    max_text_length: int | None = None

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None, dict[str, Any]]] = []

    async def send(
        self, credentials: dict[str, Any], settings: dict[str, Any], message: OutboundMessage
    ) -> SendResult:
        self.sent.append((message.recipient_external_id, message.text, credentials))
        return SendResult(provider_message_id=f"fake-{message.message_id}")

    async def fetch_media(
        self, credentials: dict[str, Any], settings: dict[str, Any], attachment: dict[str, Any]
    ) -> Media:
        raise MediaUnavailable("no media on the fake channel")


class FakeSettings(ChannelSettings):
    greeting: str | None = None

    @field_validator("greeting")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        if value is not None and len(value) > 10:
            raise ValueError("at most 10 characters")
        return value


class FakePlugin(ChannelPlugin):
    type = "fake"
    label = "Fake"
    contact_noun = "Pen pal"
    icon = "/fake.svg"
    capabilities = FakeConnector.capabilities
    settings_model = FakeSettings

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    async def prepare(
        self,
        session: AsyncSession,
        config: Settings,
        settings: dict[str, Any],
        credentials: dict[str, str],
        channel: ChannelAccount | None,
    ) -> Prepared:
        generated = {"pen_key": "secret-pen"} if channel is None else {}
        return Prepared(settings, {**credentials, **generated}, generated)

    async def setup(self, config: Settings, channel: ChannelAccount) -> None:
        self.calls.append(("setup", channel.id))

    async def teardown(self, config: Settings, channel: ChannelAccount) -> None:
        self.calls.append(("teardown", channel.id))

    def inbound_at(self, sent_at: datetime | None, received_at: datetime) -> datetime:
        return sent_at or received_at  # this provider's clock is to be believed

    def reply_window(
        self, last_inbound_at: datetime | None, now: datetime | None = None
    ) -> ReplyWindow | None:
        if last_inbound_at is None:
            return None
        expires_at = last_inbound_at + timedelta(hours=1)
        return ReplyWindow(open=(now or datetime.now(UTC)) < expires_at, expires_at=expires_at)

    def identity_keys(self, lookup: Mapping[str, str | None]) -> list[str]:
        return []


@pytest.fixture
def fake() -> Iterator[tuple[FakePlugin, FakeConnector]]:
    plugin, connector = FakePlugin(), FakeConnector()
    registry.register(plugin)
    connectors.register(connector)
    try:
        yield plugin, connector
    finally:
        registry.unregister("fake")
        connectors.unregister("fake")


async def test_a_new_channel_type_needs_only_its_plugin(
    run: Running, fake: tuple[FakePlugin, FakeConnector]
) -> None:
    plugin, connector = fake
    admin = await run.admin_token()

    r = await run.client.post(
        "/api/v1/channels",
        json={"type": "fake", "name": "Pen pals", "settings": {"greeting": "hello"}},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    channel = r.json()
    assert channel["type"] == "fake"
    assert channel["settings"] == {"greeting": "hello"}
    assert channel["generated_credentials"] == {"pen_key": "secret-pen"}
    assert channel["credential_names"] == ["pen_key"]
    assert plugin.calls == [("setup", channel["id"])]

    # A message on it: the plugin says when the client wrote (here: the provider's time).
    wrote_at = datetime.now(UTC) - timedelta(minutes=20)
    async with run.ctx.sessions() as session:
        account = await session.get(ChannelAccount, channel["id"])
        assert account is not None
        stored = await ingest(
            session,
            account,
            InboundMessage(
                sender=Sender(external_id="pal-1", name="Pal"),
                external_id="m-1",
                text="hi there",
                sent_at=wrote_at,
            ),
        )
        await session.commit()
        assert not stored.duplicate
        conv = await session.scalar(
            select(Conversation).where(Conversation.channel_account_id == channel["id"])
        )
        assert conv is not None and conv.last_inbound_at == wrote_at

    r = await run.client.get(f"/api/v1/conversations/{conv.id}", headers=auth(admin))
    assert r.status_code == 200, r.text
    read = r.json()
    assert read["channel_type"] == "fake"
    assert read["reply_window_open"] is True  # the plugin's window, not WhatsApp's
    assert datetime.fromisoformat(read["reply_window_expires_at"]) == wrote_at + timedelta(hours=1)

    # The plugin's outgoing rule: no templates on this channel.
    r = await run.client.post(
        f"/api/v1/conversations/{conv.id}/messages",
        json={"template": {"name": "hello", "language": "en"}},
        headers=auth(admin),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "templates_not_supported"

    # A reply goes out through the fake connector, with the credentials prepare made.
    r = await run.client.post(
        f"/api/v1/conversations/{conv.id}/messages", json={"text": "hello"}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    assert await Dispatcher(run.ctx).run_once() == 1
    assert connector.sent == [("pal-1", "hello", {"pen_key": "secret-pen"})]

    # Deactivate, reactivate, delete: teardown, setup, teardown.
    for body in ({"is_active": False}, {"is_active": True}):
        r = await run.client.patch(
            f"/api/v1/channels/{channel['id']}", json=body, headers=auth(admin)
        )
        assert r.status_code == 200, r.text
    r = await run.client.delete(f"/api/v1/channels/{channel['id']}", headers=auth(admin))
    assert r.status_code == 204, r.text
    assert [c for c, _ in plugin.calls] == ["setup", "teardown", "setup", "teardown"]


async def test_patch_goes_through_the_plugins_settings_model(
    run: Running, fake: tuple[FakePlugin, FakeConnector]
) -> None:
    admin = await run.admin_token()
    r = await run.client.post(
        "/api/v1/channels",
        json={"type": "fake", "name": "F", "settings": {"greeting": "far too long a greeting"}},
        headers=auth(admin),
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_settings"
    assert "greeting" in r.json()["error"]["message"]

    r = await run.client.post(
        "/api/v1/channels",
        json={"type": "fake", "name": "F", "settings": {"greeting": "hi", "csat_enabled": True}},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    url = f"/api/v1/channels/{r.json()['id']}"

    r = await run.client.patch(
        url, json={"settings": {"greeting": "far too long a greeting"}}, headers=auth(admin)
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_settings"
    r = await run.client.patch(url, json={"settings": {"greeting": "hey"}}, headers=auth(admin))
    assert r.status_code == 200, r.text
    assert r.json()["settings"] == {"greeting": "hey", "csat_enabled": True}


async def test_an_unknown_channel_type_is_refused(run: Running) -> None:
    admin = await run.admin_token()
    r = await run.client.post(
        "/api/v1/channels", json={"type": "fake", "name": "F"}, headers=auth(admin)
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "unknown_channel_type"


async def test_channel_types_are_listed_for_any_signed_in_operator(
    run: Running, fake: tuple[FakePlugin, FakeConnector]
) -> None:
    assert (await run.client.get("/api/v1/channel-types")).status_code == 401
    operator = await run.operator_token()
    r = await run.client.get("/api/v1/channel-types", headers=auth(operator))
    assert r.status_code == 200, r.text
    by_type = {t["type"]: t for t in r.json()}
    assert set(by_type) == {"telegram", "whatsapp", "webchat", "email", "vk", "fake"}
    assert by_type["fake"] == {
        "type": "fake",
        "label": "Fake",
        "contact_noun": "Pen pal",
        "icon": "/fake.svg",
        "capabilities": {
            "media": False,
            "edits": False,
            "templates": False,
            "typing": False,
            "read_receipts": False,
            "reply_window": True,
            "initiates": False,
            "max_text_length": None,
        },
    }
    assert by_type["webchat"]["contact_noun"] == "Visitor"
    whatsapp = by_type["whatsapp"]["capabilities"]
    assert whatsapp["templates"] and whatsapp["reply_window"] and whatsapp["initiates"]
    assert by_type["telegram"]["capabilities"]["max_text_length"] == 4096
    assert not by_type["telegram"]["capabilities"]["templates"]
    assert by_type["vk"]["icon"] == "/console/icon-vk.svg"
    assert by_type["vk"]["capabilities"]["max_text_length"] == 4096
    assert not by_type["vk"]["capabilities"]["reply_window"]
