"""Meta's webhook (verify handshake and deliveries) and the per-channel template list."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from app.channels import service as channels_service
from app.channels.models import ChannelAccount
from app.core.context import AppContext
from app.core.deps import Session
from app.events.dispatch import commit_then_follow_up
from app.operators import scopes, visibility
from app.operators.auth import require
from app.operators.service import Principal
from app.whatsapp import service as whatsapp_service
from app.whatsapp.schemas import TemplateList, WebhookResult

router = APIRouter(tags=["whatsapp"])


@router.get("/webhooks/whatsapp/{channel_id}", response_class=PlainTextResponse)
async def verify_webhook(
    channel_id: int,
    session: Session,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    verify_token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str, Query(alias="hub.challenge", max_length=200)] = "",
) -> PlainTextResponse:
    """Meta's subscription handshake: echo hub.challenge when the verify token matches."""
    channel = await whatsapp_service.get_webhook_channel(session, channel_id)
    whatsapp_service.check_verify_token(channel, mode, verify_token)
    return PlainTextResponse(challenge)


@router.post("/webhooks/whatsapp/{channel_id}", response_model=WebhookResult)
async def receive_webhook(channel_id: int, request: Request) -> WebhookResult:
    # The session is opened here rather than as a dependency: this is a hot path, and
    # FastAPI's generator dependencies cost more than the work they wrap.
    ctx: AppContext = request.app.state.ctx
    async with ctx.sessions() as session:
        channel = await whatsapp_service.get_webhook_channel(session, channel_id)
        body = await request.body()  # the raw bytes: the signature covers exactly these
        events = whatsapp_service.verified_events(
            channel, body, request.headers.get("x-hub-signature-256")
        )
        routed = await whatsapp_service.route_events(session, channel, events)
        result = WebhookResult(messages=0, duplicates=0, statuses=0)
        # One short transaction per event (see handle_event); the first one uses this
        # session, so the usual body of one event costs one transaction, as before.
        if routed:
            await whatsapp_service.handle_event(session, *routed[0], result)
        await commit_then_follow_up(session, ctx, after_answer=True)
    for target, event in routed[1:]:
        async with ctx.sessions() as session:
            await whatsapp_service.handle_event(session, target, event, result)
            await commit_then_follow_up(session, ctx, after_answer=True)
    return result


@router.get("/api/v1/channels/{channel_id}/templates", response_model=TemplateList)
async def list_templates(
    channel_id: int,
    principal: Annotated[Principal, Depends(require(scopes.CHANNELS_READ))],
    session: Session,
) -> TemplateList:
    """Operators read the list to pick a template once the 24-hour window has closed."""
    await visibility.require(session, principal, ChannelAccount, channel_id)
    channel = await channels_service.get_channel(session, channel_id)
    return TemplateList(templates=whatsapp_service.templates_of(channel))


@router.put("/api/v1/channels/{channel_id}/templates", response_model=TemplateList)
async def replace_templates(
    channel_id: int,
    body: TemplateList,
    _: Annotated[Principal, Depends(require(scopes.CHANNELS_WRITE))],
    session: Session,
) -> TemplateList:
    """Register the templates Meta approved for this number (name, language, parameters)."""
    channel = await channels_service.get_channel(session, channel_id)
    templates = await whatsapp_service.set_templates(session, channel, body.templates)
    await session.commit()
    return TemplateList(templates=templates)
