"""VK communities as channel accounts: preparing a community (its token checked with
groups.getById), the Callback API's checks, and storing events. Webhook and poller share
`store_events`, so both modes store exactly the same thing.

Channel settings: mode ("callback" | "longpoll"), group_id, confirmation_code (callback),
api_base (optional); set by chatcentre: group_name, group_screen_name, lp_ts (longpoll:
the last event stored, see poller.py). Credentials: access_token, secret (callback)."""

import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import service as channels_service
from app.channels.models import ChannelAccount
from app.config import Settings
from app.contacts.identity import upsert_identity
from app.contacts.models import ContactIdentity
from app.core.errors import Conflict, Invalid, Unavailable
from app.ingest.service import apply_edit, ingest
from app.vk.metrics import VK_EVENTS
from connectors import registry
from connectors.base import InboundMessage, MessageEdit, PermanentError, Sender, TemporaryError
from connectors.vk.client import VkApi, VkUser
from connectors.vk.connector import DEFAULT_MEDIA_HOSTS, VkConnector
from connectors.vk.parse import CHAT_PEER_OFFSET, MessagePermission, VkEvent

log = logging.getLogger(__name__)

TYPE = VkConnector.channel_type
MODES = ("callback", "longpoll")
DENIED = "The user denied messages from the community (VK message_deny)"


def configure_connector(settings: Settings) -> None:
    hosts = tuple(h.strip() for h in settings.vk_media_hosts.split(",") if h.strip())
    registry.register(
        VkConnector(
            api_base=settings.vk_api_base,
            timeout=settings.vk_timeout_seconds,
            media_hosts=hosts or DEFAULT_MEDIA_HOSTS,
        )
    )


def connector(config: Settings | None = None) -> VkConnector:
    """The process's VK connector; a process that never configured the plugins (the CLI)
    installs it from `config` first."""
    try:
        found = registry.get_connector(TYPE)
    except LookupError:
        if config is None:
            raise
        configure_connector(config)
        found = registry.get_connector(TYPE)
    assert isinstance(found, VkConnector)
    return found


def api_of(channel: ChannelAccount) -> VkApi:
    return connector().api_for(channel.settings)


def webhook_url(public_url: str, channel_id: int) -> str:
    return f"{(public_url or 'https://<public host>').rstrip('/')}/webhooks/vk/{channel_id}"


# ---------------------------------------------------------------- channel lifecycle


async def prepare(
    session: AsyncSession,
    config: Settings,
    settings: dict[str, Any],
    credentials: dict[str, str],
    channel: ChannelAccount | None,
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """Checks the token with groups.getById before anything is stored. Returns the settings
    and credentials to store and what was generated (the callback secret, shown once).
    Never puts the token in an error message."""
    token = str(credentials.get("access_token") or "").strip()
    if not token:
        raise Invalid(
            "credentials.access_token is required (a community token: Manage -> API usage)",
            "invalid_access_token",
        )
    mode = settings.get("mode") or ("callback" if config.public_url else "longpoll")
    api = connector(config).api_for(settings)
    try:
        group = await api.get_group(token)
    except PermanentError as exc:
        raise Invalid(
            f"VK refused the access token: {exc.reason}", "invalid_access_token"
        ) from None
    except TemporaryError as exc:
        raise Unavailable(f"Could not reach the VK API: {exc.reason}") from None
    wanted = settings.get("group_id")
    if wanted is not None and int(wanted) != group.id:
        raise Invalid(
            f"The access token belongs to community {group.id}, not {wanted}", "wrong_community"
        )
    if channel is not None and channel.settings.get("group_id") != group.id:
        raise Conflict(
            "This token belongs to another community: connect that one as a new channel",
            "different_community",
        )
    taken = await session.scalar(
        select(ChannelAccount.id).where(
            ChannelAccount.type == TYPE,
            ChannelAccount.settings["group_id"].as_string() == str(group.id),
            ChannelAccount.deleted_at.is_(None),
            ChannelAccount.id != (channel.id if channel is not None else -1),
        )
    )
    if taken is not None:
        raise Conflict(
            f"This community is already connected as channel {taken}", "community_connected"
        )
    stored = {k: v for k, v in settings.items() if k != "lp_ts"}  # a new setup polls afresh
    stored |= {"mode": mode, "group_id": group.id, "group_name": group.name}
    if group.screen_name:
        stored["group_screen_name"] = group.screen_name
    creds = {**credentials, "access_token": token}
    generated: dict[str, str] = {}
    if mode == "callback":
        if not stored.get("confirmation_code"):
            stored["confirmation_code"] = await _confirmation_code(api, token, group.id)
        if not str(creds.get("secret") or "").strip():
            if channel is not None:  # a PATCH cannot show a generated one to anybody
                raise Invalid(
                    "credentials.secret is required: the Secret key set in the community's "
                    "Callback API settings",
                    "missing_secret",
                )
            creds["secret"] = generated["secret"] = secrets.token_hex(16)
    return stored, creds, generated


async def _confirmation_code(api: VkApi, token: str, group_id: int) -> str:
    try:
        return await api.get_confirmation_code(token, group_id)
    except (PermanentError, TemporaryError):
        raise Invalid(
            "settings.confirmation_code is required: the string VK shows in the community's "
            "Manage -> API usage -> Callback API (the token may not read it itself)",
            "missing_confirmation_code",
        ) from None


async def connect(config: Settings, channel: ChannelAccount) -> None:
    """Long Poll mode: switch Bots Long Poll on at our API version and events. A token
    without the manage right cannot; then it must be on in the community's settings, and
    the poller says so in its log if it is not."""
    if channel.settings.get("mode") != "longpoll":
        return
    try:
        await (
            connector(config)
            .api_for(channel.settings)
            .enable_long_poll(
                channel.credentials["access_token"], int(channel.settings["group_id"])
            )
        )
    except PermanentError as exc:
        log.warning("vk channel %s: Long Poll settings not changed (%s)", channel.id, exc.reason)
    except TemporaryError as exc:
        raise Unavailable(f"VK could not switch Long Poll on: {exc.reason}") from None


# ---------------------------------------------------------------- inbound


async def webhook_channel(session: AsyncSession, channel_id: int) -> ChannelAccount:
    return await channels_service.webhook_channel(session, channel_id, TYPE, "Unknown VK channel")


@dataclass
class Stored:
    messages: int = 0
    duplicates: int = 0
    edits: int = 0
    permissions: int = 0


async def store_events(
    session: AsyncSession, channel: ChannelAccount, events: list[VkEvent], source: str
) -> Stored:
    """Stores one delivery's events in the caller's transaction (the caller commits). A
    redelivered message changes nothing; an edit of a message never stored is dropped."""
    stored = Stored()
    for event in events:
        if isinstance(event, InboundMessage):
            VK_EVENTS.labels(source, "message_new").inc()
            result = await ingest(session, channel, await _named(session, channel, event))
            if result.duplicate:
                stored.duplicates += 1
            else:
                stored.messages += 1
        elif isinstance(event, MessageEdit):
            VK_EVENTS.labels(source, "message_edit").inc()
            if await apply_edit(session, channel, event) is not None:
                stored.edits += 1
        else:
            VK_EVENTS.labels(source, "message_allow" if event.allowed else "message_deny").inc()
            await record_permission(session, channel, event)
            stored.permissions += 1
    return stored


async def record_permission(
    session: AsyncSession, channel: ChannelAccount, event: MessagePermission
) -> None:
    """message_allow / message_deny on the person's identity (created if they never wrote:
    someone who pressed "Allow messages" may be written to). A denied identity is
    unreachable: replies are refused with a 409 (plugin.check_recipient), chain steps pick
    another channel."""
    now = datetime.now(UTC)
    await upsert_identity(session, channel.id, Sender(external_id=event.external_id), now, False)
    await session.execute(
        update(ContactIdentity)
        .where(
            ContactIdentity.channel_account_id == channel.id,
            ContactIdentity.external_id == event.external_id,
        )
        .values(reachable=event.allowed, unreachable_reason=None if event.allowed else DENIED)
    )


# Senders already looked at, per process: users.get once per person, not per message (VK's
# events carry only ids). None: nothing to add (the name is stored, or VK has none).
_NAMES: OrderedDict[tuple[str, str], VkUser | None] = OrderedDict()
_NAMES_KEPT = 10_000


async def _named(
    session: AsyncSession, channel: ChannelAccount, message: InboundMessage
) -> InboundMessage:
    """The message with its sender's name and screen name from users.get, for a person we
    have no name of yet. A failed lookup costs the name, never the message."""
    peer = message.sender.external_id
    if message.sender.name or not peer.isdigit() or int(peer) >= CHAT_PEER_OFFSET:
        return message
    key = (channel.public_key, peer)  # unique per channel, ever
    if key not in _NAMES:
        known = await session.scalar(
            select(ContactIdentity.display_name).where(
                ContactIdentity.channel_account_id == channel.id,
                ContactIdentity.external_id == peer,
            )
        )
        found = None
        if not known:
            try:
                users = await api_of(channel).users_get(
                    channel.credentials["access_token"], [int(peer)]
                )
            except (TemporaryError, PermanentError) as exc:
                log.warning("vk channel %s: users.get failed (%s)", channel.id, exc.reason)
                return message  # asked again with the next message
            found = users[0] if users else None
        _NAMES[key] = found
        while len(_NAMES) > _NAMES_KEPT:
            _NAMES.popitem(last=False)
    user = _NAMES[key]
    if user is None or not user.name:
        return message
    sender = replace(message.sender, name=user.name, username=user.screen_name)
    return replace(message, sender=sender)
