"""Channel accounts: connected bots, numbers and widgets."""

import secrets
import time
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import registry
from app.channels.models import ChannelAccount
from app.channels.schemas import ChannelCreate, ChannelRead, ChannelUpdate
from app.config import Settings, get_settings
from app.core.bus import Subscriber
from app.core.errors import Invalid, NotFound
from app.core.session import Event
from app.events.dispatch import raise_event
from app.events.types import CHANNEL_CHANGED, ChannelChanged, ChannelDeleted
from app.operators import visibility
from app.operators.models import Team
from app.operators.service import Principal

# The hot paths' channel reads (every widget request, every provider webhook) are cached per
# process for a few seconds. A change drops the entry at once in the process that made it,
# and, through the bus (channel.changed, after the commit), in every other node: there it
# is seen as soon as the bus frame arrives. _CACHE_TTL bounds what a lost frame costs.
_CACHE_TTL = 5.0
K = TypeVar("K", int, str)
_by_key: dict[str, tuple[float, ChannelAccount]] = {}
_by_id: dict[int, tuple[float, ChannelAccount]] = {}


def _forget(channel_ids: set[int]) -> None:
    for channel_id in channel_ids:
        _by_id.pop(channel_id, None)
    for key in [k for k, (_, channel) in _by_key.items() if channel.id in channel_ids]:
        del _by_key[key]


async def changed(session: AsyncSession, channel: ChannelAccount) -> None:
    """Call after changing a channel (flushed, before the commit): this process forgets it
    now, the other nodes when the commit's bus frame reaches them."""
    _forget({channel.id})
    await raise_event(session, ChannelChanged(channel_id=channel.id))


def cache_listener() -> Subscriber:
    """A bus subscriber for every node: drops the channels another node changed."""

    async def on_events(events: list[Event]) -> None:
        ids = {e["channel_id"] for e in events if e.get("type") == CHANNEL_CHANGED}
        if ids:
            _forget(ids)

    return on_events


def _fresh(cache: dict[K, tuple[float, ChannelAccount]], key: K) -> ChannelAccount | None:
    """The channel cached under `key` within _CACHE_TTL, else None."""
    hit = cache.get(key)
    return hit[1] if hit is not None and time.monotonic() - hit[0] < _CACHE_TTL else None


def forget_all() -> None:
    """Called when an app starts: the cache belongs to the database that app serves (a
    test's fresh database numbers its channels from 1 again)."""
    _by_key.clear()
    _by_id.clear()


async def _check_team(session: AsyncSession, team_id: int | None) -> None:
    """A 422 instead of the foreign key's 500 (found by schemathesis)."""
    if team_id is not None and await session.get(Team, team_id) is None:
        raise Invalid(f"Team {team_id} not found", "unknown_team")


async def create_channel(
    session: AsyncSession, data: ChannelCreate, config: Settings | None = None
) -> tuple[ChannelAccount, dict[str, str]]:
    """`config`: the app's settings (Telegram needs the Bot API server and public URL)."""
    config = config or get_settings()
    plugin = registry.get(data.type)
    await _check_team(session, data.team_id)
    settings = plugin.validate(data.settings)
    prepared = await plugin.prepare(session, config, settings, dict(data.credentials), None)
    channel = ChannelAccount(
        type=plugin.type,
        name=data.name,
        public_key=secrets.token_urlsafe(18),
        settings=prepared.settings,
        credentials=prepared.credentials,
        team_id=data.team_id,
    )
    session.add(channel)
    await session.flush()
    await plugin.setup(config, channel)  # needs the id; raises: nothing kept
    await session.flush()
    return channel, prepared.generated


async def get_channel(session: AsyncSession, channel_id: int) -> ChannelAccount:
    channel = await session.get(ChannelAccount, channel_id)
    if channel is None or channel.deleted_at is not None:
        raise NotFound(f"Channel {channel_id} not found")
    return channel


async def list_channels(session: AsyncSession, principal: Principal) -> list[ChannelAccount]:
    q = select(ChannelAccount).where(
        ChannelAccount.deleted_at.is_(None), *visibility.where(principal, ChannelAccount)
    )
    return list((await session.scalars(q.order_by(ChannelAccount.id))).all())


async def update_channel(
    session: AsyncSession, channel_id: int, data: ChannelUpdate, config: Settings | None = None
) -> ChannelAccount:
    """Settings and credentials go through creation's checks; a change the provider must
    hear of (a Telegram bot's mode, token or API server) runs the provider setup again.
    Deactivating tears the provider side down, reactivating sets it up. Any refusal
    (422, 409, 503) leaves the channel as it was: the caller does not commit."""
    config = config or get_settings()
    channel = await get_channel(session, channel_id)
    plugin = registry.get(channel.type)
    changes = data.model_dump(exclude_unset=True)
    await _check_team(session, changes.get("team_id"))
    settings, credentials = channel.settings, channel.credentials
    if changes.get("settings") is not None:
        if fixed := sorted(set(changes["settings"]) & set(plugin.derived_settings)):
            raise Invalid(f"settings.{fixed[0]} is set by chatcentre itself", "invalid_settings")
        # PATCH merges: keys given replace, keys set to null are removed, others stay
        # (a bot's mode, id and polling offset survive a change of, say, csat_enabled).
        merged = {**channel.settings, **changes["settings"]}
        settings = plugin.validate({k: v for k, v in merged.items() if v is not None})
    if changes.get("credentials") is not None:
        credentials = {**channel.credentials, **changes["credentials"]}
    resetup = plugin.setup_changed(channel, settings, credentials)
    if resetup:
        prepared = await plugin.prepare(session, config, settings, credentials, channel)
        settings, credentials = prepared.settings, prepared.credentials
    was_active = channel.is_active
    active = was_active if changes.get("is_active") is None else bool(changes["is_active"])
    if was_active and not active:
        await plugin.teardown(config, channel)  # what runs now, before the change
    channel.settings, channel.credentials = settings, credentials
    if active and (resetup or not was_active):
        await plugin.setup(config, channel)
    for key in ("name", "team_id", "is_active"):
        if key in changes and (changes[key] is not None or key == "team_id"):
            setattr(channel, key, changes[key])
    await session.flush()
    await changed(session, channel)
    return channel


async def delete_channel(
    session: AsyncSession, channel_id: int, config: Settings | None = None
) -> ChannelAccount:
    """Stops everything (provider side torn down, pollers and webhooks refuse it, nothing
    left in its outbox is sent) and forgets the credentials; conversations and messages
    stay readable."""
    config = config or get_settings()
    channel = await get_channel(session, channel_id)
    if channel.is_active:
        await registry.get(channel.type).teardown(config, channel)
    channel.is_active = False
    channel.deleted_at = datetime.now(UTC)
    channel.credentials = {}
    await session.flush()
    _forget({channel.id})
    await raise_event(  # its bus frame makes the other nodes forget it too
        session, ChannelDeleted(channel_id=channel.id, channel_type=str(channel.type))
    )
    return channel


async def get_by_public_key(session: AsyncSession, public_key: str) -> ChannelAccount:
    """Hot path for every widget request: cached for a few seconds per process."""
    if (hit := _fresh(_by_key, public_key)) is not None:
        return hit
    channel = await session.scalar(
        select(ChannelAccount).where(ChannelAccount.public_key == public_key)
    )
    if channel is None or not channel.is_active:
        raise NotFound("Unknown widget key", "unknown_widget")
    session.expunge(channel)
    _by_key[public_key] = (time.monotonic(), channel)
    return channel


async def webhook_channel(
    session: AsyncSession, channel_id: int, channel_type: str, unknown: str
) -> ChannelAccount:
    """Hot path for every provider webhook: the active channel of that type (else 404
    `unknown`), read once per _CACHE_TTL per process. Detached: read it, do not change it."""
    channel = _fresh(_by_id, channel_id)
    if channel is None:
        channel = await session.get(ChannelAccount, channel_id)
        if channel is not None:  # only real channels: unknown ids cannot fill the cache
            session.expunge(channel)
            _by_id[channel_id] = (time.monotonic(), channel)
    if channel is None or channel.type != channel_type or not channel.is_active:
        raise NotFound(unknown, "unknown_channel")
    return channel


def to_read(channel: ChannelAccount) -> ChannelRead:
    return ChannelRead(
        id=channel.id,
        type=channel.type,
        name=channel.name,
        public_key=channel.public_key,
        settings=channel.settings,
        credential_names=sorted(channel.credentials),
        team_id=channel.team_id,
        is_active=channel.is_active,
        created_at=channel.created_at,
    )
