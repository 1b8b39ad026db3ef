"""/api/v1/agent-bots (admins: channels:write, like webhooks), the bot's own calls
(`Authorization: Bearer ccbot_...`: read and answer its conversations) and the handoff, which
the bot and the people who see the conversation may both call."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from app.audit import service as audit
from app.bots import service
from app.bots.models import AgentBot
from app.bots.schemas import (
    BotCreate,
    BotMessage,
    BotRead,
    BotToken,
    BotUpdate,
    BotWithSecrets,
    HandoffRead,
)
from app.core.deps import Ctx, Session, client_ip
from app.core.errors import Forbidden, Invalid, Unauthorized
from app.events.dispatch import commit_then_follow_up
from app.inbox import queries as inbox_queries
from app.inbox.commands import send_as
from app.inbox.models import SenderType
from app.inbox.queries import get_conversation
from app.inbox.schemas import MessageRead
from app.operators import scopes
from app.operators.auth import current_principal, require
from app.operators.service import Principal
from app.routing import commands as routing_commands
from app.webhooks import service as webhooks_service
from app.webhooks.transport import UrlRefused, allowed_networks, check_url_shape

router = APIRouter(prefix="/api/v1", tags=["agent bots"])

Admin = Annotated[Principal, Depends(require(scopes.CHANNELS_WRITE))]
_bearer = HTTPBearer(auto_error=False)
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False)


async def _bot_or_none(
    ctx: Ctx,
    session: Session,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> AgentBot | None:
    if bearer is None or not service.is_bot_token(bearer.credentials):
        return None
    bot = await service.authenticate(session, bearer.credentials)
    await ctx.limiter.hit(ctx.settings.rate_limit_api, "agent_bot", str(bot.id))
    return bot


async def current_bot(bot: Annotated[AgentBot | None, Depends(_bot_or_none)]) -> AgentBot:
    if bot is None:
        raise Unauthorized(
            "This needs an agent bot's token: Authorization: Bearer ccbot_...",
            "bot_token_required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return bot


Bot = Annotated[AgentBot, Depends(current_bot)]


def _check_url(ctx: Ctx, url: str) -> None:
    try:
        check_url_shape(url, allowed_networks(ctx.settings.webhook_allowed_networks))
    except UrlRefused as exc:
        raise Invalid(str(exc), code="url_not_allowed") from exc


async def _read(session: Session, bot: AgentBot) -> BotRead:
    endpoint = await service.endpoint_of(session, bot)
    return BotRead(
        id=bot.id,
        name=bot.name,
        url=endpoint.url,
        channel_ids=await service.channel_ids(session, bot.id),
        is_active=bot.is_active,
        endpoint_id=bot.endpoint_id,
        created_at=bot.created_at,
    )


async def _audit(
    session: Session,
    principal: Principal,
    request: Request,
    action: str,
    bot_id: int,
    **details: object,
) -> None:
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action=f"agent_bot.{action}",
        target_type="agent_bot",
        target_id=bot_id,
        ip=client_ip(request),
        details=details,
    )


@router.get("/agent-bots", response_model=list[BotRead])
async def list_bots(_: Admin, session: Session) -> list[BotRead]:
    rows = (await session.scalars(select(AgentBot).order_by(AgentBot.id))).all()
    return [await _read(session, b) for b in rows]


@router.post("/agent-bots", response_model=BotWithSecrets, status_code=201)
async def create_bot(
    body: BotCreate, principal: Admin, request: Request, session: Session, ctx: Ctx
) -> BotWithSecrets:
    """The answer holds the bot's access token and its deliveries' signing secret: the only
    time either is shown (rotate-token for a new token)."""
    _check_url(ctx, body.url)
    endpoint_id, secret = await service.new_endpoint(session, body.url, body.is_active)
    token, prefix, digest = service.new_token()
    bot = AgentBot(
        name=body.name,
        endpoint_id=endpoint_id,
        token_prefix=prefix,
        token_hash=digest,
        is_active=body.is_active,
    )
    session.add(bot)
    await session.flush()
    await service.set_channels(session, bot, body.channel_ids)
    await session.refresh(bot)
    await _audit(session, principal, request, "create", bot.id, channel_ids=body.channel_ids)
    read = await _read(session, bot)
    await session.commit()
    return BotWithSecrets(**read.model_dump(), access_token=token, secret=secret)


@router.get("/agent-bots/{bot_id}", response_model=BotRead)
async def get_bot(bot_id: int, _: Admin, session: Session) -> BotRead:
    return await _read(session, await service.get_bot(session, bot_id))


@router.patch("/agent-bots/{bot_id}", response_model=BotRead)
async def update_bot(
    bot_id: int, body: BotUpdate, principal: Admin, request: Request, session: Session, ctx: Ctx
) -> BotRead:
    """Switching a bot off hands its conversations to the people (routing)."""
    bot = await service.get_bot(session, bot_id)
    endpoint = await service.endpoint_of(session, bot)
    if body.url is not None:
        _check_url(ctx, body.url)
        endpoint.url = body.url
    if body.name is not None:
        bot.name = body.name
    if body.channel_ids is not None:
        await service.set_channels(session, bot, body.channel_ids)
    handed = 0
    if body.is_active is not None:
        if bot.is_active and not body.is_active:
            handed = await service.hand_off_all(session, bot.id)
        bot.is_active = endpoint.is_active = body.is_active
        if body.is_active:
            endpoint.failing_since = None
            endpoint.disabled_reason = None
    await session.flush()
    await _audit(
        session,
        principal,
        request,
        "update",
        bot.id,
        fields=sorted(body.model_dump(exclude_unset=True)),
        handed_off=handed,
    )
    await session.refresh(bot)
    read = await _read(session, bot)
    await session.commit()
    return read


@router.delete("/agent-bots/{bot_id}", status_code=204)
async def delete_bot(bot_id: int, principal: Admin, request: Request, session: Session) -> None:
    """Its conversations go to the people first; its endpoint and deliveries go with it."""
    bot = await service.get_bot(session, bot_id)
    handed = await service.hand_off_all(session, bot.id)
    endpoint = await service.endpoint_of(session, bot)
    await session.delete(bot)
    await session.flush()
    await webhooks_service.delete_endpoint(session, endpoint)
    await _audit(session, principal, request, "delete", bot_id, handed_off=handed)
    await session.commit()


@router.post("/agent-bots/{bot_id}/rotate-token", response_model=BotToken)
async def rotate_token(
    bot_id: int, principal: Admin, request: Request, session: Session
) -> BotToken:
    """A new token, shown in this answer only; the old one stops working at once."""
    bot = await service.get_bot(session, bot_id)
    token, prefix, digest = service.new_token()
    bot.token_prefix, bot.token_hash = prefix, digest
    await _audit(session, principal, request, "rotate_token", bot.id)
    await session.commit()
    return BotToken(access_token=token)


# --- the bot's own calls -------------------------------------------------------------------


@router.get("/agent-bot/conversations/{conversation_id}/messages", response_model=list[MessageRead])
async def bot_messages(
    conversation_id: int,
    bot: Bot,
    session: Session,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[MessageRead]:
    """Its conversation's messages (no private notes), oldest first."""
    conv = await service.conversation_of(session, bot, conversation_id)
    rows, _, _ = await inbox_queries.list_messages(
        session, conv.id, after=after, limit=limit, visitor_view=True
    )
    return [inbox_queries.to_message_read(m) for m in rows]


@router.post(
    "/agent-bot/conversations/{conversation_id}/messages",
    response_model=MessageRead,
    status_code=201,
)
async def bot_send(
    conversation_id: int, body: BotMessage, bot: Bot, session: Session, ctx: Ctx
) -> MessageRead:
    """The bot answers the client: out through the channel's outbox like an operator's
    reply, sender type bot. Only while the conversation is with it (else 404)."""
    conv = await service.conversation_of(session, bot, conversation_id, lock=True)
    external_id = f"bot{bot.id}/{body.client_message_id}" if body.client_message_id else None
    msg, _ = await send_as(
        session,
        conv,
        text=body.text,
        sender_type=SenderType.bot,
        external_id=external_id,
        max_chars=ctx.settings.max_message_chars,
    )
    await commit_then_follow_up(session, ctx)
    return inbox_queries.to_message_read(msg)


@router.post("/conversations/{conversation_id}/handoff", response_model=HandoffRead)
async def handoff(
    conversation_id: int,
    request: Request,
    ctx: Ctx,
    session: Session,
    bot: Annotated[AgentBot | None, Depends(_bot_or_none)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> HandoffRead:
    """The conversation leaves the bot: open, and routed to an operator or the queue, once
    (a second call, even a concurrent one, finds it open and does nothing). The bot (its
    token, its own conversations) or whoever may change the conversation calls it."""
    by: int | None = None
    if bot is not None:
        conv = await service.conversation_of(session, bot, conversation_id)
    else:
        principal = await current_principal(request, ctx, session, bearer, api_key)
        if scopes.CONVERSATIONS_WRITE not in principal.scopes:
            raise Forbidden(
                f"This needs the {scopes.CONVERSATIONS_WRITE!r} permission", "missing_scope"
            )
        conv = await get_conversation(session, principal, conversation_id)
        by = principal.operator_id
    conv, done = await routing_commands.handoff(session, conv.id, by=by)
    status, assignee = conv.status.value, conv.assignee_id
    await commit_then_follow_up(session, ctx)
    return HandoffRead(
        conversation_id=conversation_id, status=status, assignee_id=assignee, handed_off=done
    )
