"""Channel accounts: connected bots, numbers and widgets."""

import secrets
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.models import ChannelAccount, ChannelType
from app.channels.schemas import ChannelCreate, ChannelRead, ChannelUpdate
from app.config import Settings, get_settings
from app.core.errors import Invalid, NotFound
from app.inbox import visibility
from app.operators.models import Team
from app.operators.service import Principal
from app.telegram import service as telegram_service
from app.whatsapp import service as whatsapp_service

_CACHE_TTL = 5.0
_by_key: dict[str, tuple[float, ChannelAccount]] = {}


def _validate_settings(channel_type: ChannelType, settings: dict[str, Any]) -> dict[str, Any]:
    if channel_type == ChannelType.webchat:
        origins = settings.get("allowed_origins", [])
        if not isinstance(origins, list) or not all(
            isinstance(o, str) and (o == "*" or o.startswith(("http://", "https://")))
            for o in origins
        ):
            raise Invalid(
                "settings.allowed_origins must be a list of origins like https://shop.example",
                "invalid_settings",
            )
        settings = {**settings, "allowed_origins": [o.rstrip("/") for o in origins]}
    if channel_type == ChannelType.whatsapp:
        settings = whatsapp_service.validate_settings(settings)
    return settings


async def _check_team(session: AsyncSession, team_id: int | None) -> None:
    """A 422 instead of the foreign key's 500 (found by schemathesis)."""
    if team_id is not None and await session.get(Team, team_id) is None:
        raise Invalid(f"Team {team_id} not found", "unknown_team")


async def create_channel(
    session: AsyncSession, data: ChannelCreate, config: Settings | None = None
) -> tuple[ChannelAccount, dict[str, str]]:
    """`config`: the app's settings (Telegram needs the Bot API server and public URL)."""
    config = config or get_settings()
    await _check_team(session, data.team_id)
    credentials = dict(data.credentials)
    settings = _validate_settings(data.type, data.settings)
    generated: dict[str, str] = {}
    if data.type == ChannelType.webchat and "identity_secret" not in credentials:
        generated["identity_secret"] = secrets.token_urlsafe(32)
        credentials.update(generated)
    if data.type == ChannelType.whatsapp:
        credentials = whatsapp_service.prepare_credentials(credentials)
    if data.type == ChannelType.telegram:
        settings, credentials = await telegram_service.prepare(
            session, config, settings, credentials
        )
    channel = ChannelAccount(
        type=data.type,
        name=data.name,
        public_key=secrets.token_urlsafe(18),
        settings=settings,
        credentials=credentials,
        team_id=data.team_id,
    )
    session.add(channel)
    await session.flush()
    if data.type == ChannelType.telegram:
        await telegram_service.connect(config, channel)  # needs the id; raises: nothing kept
        await session.flush()
    return channel, generated


async def get_channel(session: AsyncSession, channel_id: int) -> ChannelAccount:
    channel = await session.get(ChannelAccount, channel_id)
    if channel is None:
        raise NotFound(f"Channel {channel_id} not found")
    return channel


async def list_channels(session: AsyncSession, principal: Principal) -> list[ChannelAccount]:
    q = select(ChannelAccount).where(*visibility.where(principal, ChannelAccount))
    return list((await session.scalars(q.order_by(ChannelAccount.id))).all())


async def update_channel(
    session: AsyncSession, channel_id: int, data: ChannelUpdate
) -> ChannelAccount:
    channel = await get_channel(session, channel_id)
    changes = data.model_dump(exclude_unset=True)
    await _check_team(session, changes.get("team_id"))
    if "settings" in changes and changes["settings"] is not None:
        # PATCH merges: keys given replace, keys set to null are removed, others stay
        # (a bot's mode, id and polling offset survive a change of, say, csat_enabled).
        merged = {**channel.settings, **changes.pop("settings")}
        merged = {k: v for k, v in merged.items() if v is not None}
        channel.settings = _validate_settings(channel.type, merged)
    if "credentials" in changes and changes["credentials"] is not None:
        channel.credentials = {**channel.credentials, **changes.pop("credentials")}
    for key, value in changes.items():
        if value is not None or key == "team_id":
            setattr(channel, key, value)
    await session.flush()
    _by_key.pop(channel.public_key, None)
    return channel


async def get_by_public_key(session: AsyncSession, public_key: str) -> ChannelAccount:
    """Hot path for every widget request: cached for a few seconds per process."""
    now = time.monotonic()
    hit = _by_key.get(public_key)
    if hit is not None and now - hit[0] < _CACHE_TTL:
        return hit[1]
    channel = await session.scalar(
        select(ChannelAccount).where(ChannelAccount.public_key == public_key)
    )
    if channel is None or not channel.is_active:
        raise NotFound("Unknown widget key", "unknown_widget")
    session.expunge(channel)
    _by_key[public_key] = (now, channel)
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
