"""Agent bots: their rows and token, which conversations are theirs, and the scope of their
webhook endpoint (the events of their own conversations only)."""

import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bots.models import AgentBot, AgentBotChannel
from app.channels.models import ChannelAccount
from app.core.errors import Conflict, Invalid, NotFound, Unauthorized
from app.events.store import StoredEvent
from app.inbox import rules as inbox_rules
from app.inbox.models import Conversation
from app.inbox.queries import lock_client_of
from app.operators import security
from app.routing import commands as routing_commands
from app.webhooks import service as webhooks_service
from app.webhooks.models import WebhookEndpoint

KIND = "agent_bot"  # its webhook endpoint's kind
TOKEN_PREFIX = "ccbot_"
# What a bot hears: its conversations opening and the client's messages in them.
EVENTS = ("conversation.created", "message.created")


def new_token() -> tuple[str, str, str]:
    """(the token shown once, its lookup prefix, the hash stored)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return f"{TOKEN_PREFIX}{prefix}_{secret}", prefix, security.hash_api_secret(secret)


def is_bot_token(raw: str) -> bool:
    return raw.startswith(TOKEN_PREFIX)


async def authenticate(session: AsyncSession, raw: str) -> AgentBot:
    prefix, sep, secret = raw.removeprefix(TOKEN_PREFIX).partition("_")
    bot = (
        await session.scalar(select(AgentBot).where(AgentBot.token_prefix == prefix))
        if sep and prefix and secret
        else None
    )
    if (
        bot is None
        or not bot.is_active
        or not security.same_digest(bot.token_hash, security.hash_api_secret(secret))
    ):
        raise Unauthorized("The bot token is not valid", "invalid_bot_token")
    return bot


async def get_bot(session: AsyncSession, bot_id: int) -> AgentBot:
    found = await session.get(AgentBot, bot_id)
    if found is None:
        raise NotFound("No such agent bot", code="agent_bot_not_found")
    return found


async def channel_ids(session: AsyncSession, bot_id: int) -> list[int]:
    rows = await session.scalars(
        select(AgentBotChannel.channel_account_id)
        .where(AgentBotChannel.agent_bot_id == bot_id)
        .order_by(AgentBotChannel.channel_account_id)
    )
    return list(rows)


async def set_channels(session: AsyncSession, bot: AgentBot, ids: list[int]) -> None:
    """The channels whose new conversations the bot takes first (one bot per channel)."""
    wanted = sorted(set(ids))
    if wanted:
        found = set(
            await session.scalars(
                select(ChannelAccount.id).where(
                    ChannelAccount.id.in_(wanted), ChannelAccount.deleted_at.is_(None)
                )
            )
        )
        if missing := [i for i in wanted if i not in found]:
            raise Invalid(f"No such channel: {missing}", "unknown_channel")
        taken = list(
            await session.scalars(
                select(AgentBotChannel.channel_account_id).where(
                    AgentBotChannel.channel_account_id.in_(wanted),
                    AgentBotChannel.agent_bot_id != bot.id,
                )
            )
        )
        if taken:
            raise Conflict(f"Another bot answers channel {taken}", "channel_has_bot")
    await session.execute(delete(AgentBotChannel).where(AgentBotChannel.agent_bot_id == bot.id))
    session.add_all(AgentBotChannel(channel_account_id=i, agent_bot_id=bot.id) for i in wanted)
    await session.flush()


async def endpoint_of(session: AsyncSession, bot: AgentBot) -> WebhookEndpoint:
    return await webhooks_service.get_endpoint(session, bot.endpoint_id, kind=KIND)


async def new_endpoint(session: AsyncSession, url: str, is_active: bool) -> tuple[int, str]:
    secret = webhooks_service.new_secret()
    endpoint = WebhookEndpoint(
        url=url,
        events=list(EVENTS),
        description="agent bot",
        is_active=is_active,
        secret={"secret": secret},
        kind=KIND,
    )
    session.add(endpoint)
    await session.flush()
    return endpoint.id, secret


# --- its conversations --------------------------------------------------------------------


def _its_conversations(bot_id: int) -> Any:
    """Where-clauses: with a bot, on a channel this bot answers."""
    return (
        Conversation.status == inbox_rules.WITH_BOT,
        Conversation.channel_account_id.in_(
            select(AgentBotChannel.channel_account_id).where(AgentBotChannel.agent_bot_id == bot_id)
        ),
    )


async def conversation_of(
    session: AsyncSession, bot: AgentBot, conversation_id: int, *, lock: bool = False
) -> Conversation:
    """The bot's own conversation, else 404 (whether it exists is none of its business)."""
    q = select(Conversation).where(Conversation.id == conversation_id, *_its_conversations(bot.id))
    if lock:
        await lock_client_of(session, conversation_id)  # the client first, as the ingest
        q = q.with_for_update()
    conv = await session.scalar(q)
    if conv is None:
        raise NotFound("No such conversation of this bot", "conversation_not_found")
    return conv


async def hand_off_all(session: AsyncSession, bot_id: int) -> int:
    """A bot switched off or deleted leaves nobody answering: its conversations go to the
    people."""
    ids = list(
        await session.scalars(
            select(Conversation.id).where(*_its_conversations(bot_id)).order_by(Conversation.id)
        )
    )
    for conversation_id in ids:
        await routing_commands.handoff(session, conversation_id)
    return len(ids)


async def endpoint_scope(
    session: AsyncSession, endpoint: WebhookEndpoint, events: Sequence[StoredEvent]
) -> set[int]:
    """The events a bot's endpoint gets: those of conversations with it now, and of the
    messages only the client's."""
    bot_id = await session.scalar(select(AgentBot.id).where(AgentBot.endpoint_id == endpoint.id))
    wanted = {
        int(cid) for ev in events if isinstance(cid := ev.payload.get("conversation_id"), int)
    }
    if bot_id is None or not wanted:
        return set()
    mine = set(
        await session.scalars(
            select(Conversation.id).where(Conversation.id.in_(wanted), *_its_conversations(bot_id))
        )
    )
    return {
        ev.id
        for ev in events
        if ev.payload.get("conversation_id") in mine
        and (ev.name != "message.created" or ev.payload.get("direction") == "inbound")
    }
