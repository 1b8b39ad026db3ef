"""POST /webhooks/vk/{channel_id}: VK's Callback API.

VK wants HTTP 200 with the text "ok" (or, for the confirmation handshake, the channel's
confirmation code); anything else is a failed delivery it retries, and a server failing
for long is switched off. So "ok" is answered only once the events are committed, and to
every event we do not need. A request without the channel's secret stores nothing: a 403,
and the refusals of one address are rate-limited (as is the unauthenticated handshake)."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from app.core.context import AppContext
from app.core.deps import client_ip
from app.core.errors import DomainError, Forbidden, Unavailable
from app.events.dispatch import commit_then_follow_up
from app.vk import service as vk_service
from connectors.vk.parse import handle_callback

router = APIRouter(prefix="/webhooks/vk", tags=["providers"])


class MalformedEvent(DomainError):
    status_code = 400
    code = "malformed_event"


@router.post("/{channel_id}", status_code=200, response_class=PlainTextResponse)
async def vk_callback(channel_id: int, request: Request) -> Response:
    ctx: AppContext = request.app.state.ctx
    body = await request.body()  # size-limited by the app's body limit
    # The session is opened here rather than as a dependency: this is a hot path.
    async with ctx.sessions() as session:
        channel = await vk_service.webhook_channel(session, channel_id)
        result = handle_callback(
            body,
            group_id=int(channel.settings.get("group_id") or 0),
            confirmation_code=channel.settings.get("confirmation_code"),
            secret=channel.credentials.get("secret"),
        )
        if not result.accepted or not result.events:
            await session.rollback()  # nothing to store: the connection goes back at once
        if result.status == 400:
            raise MalformedEvent(f"The body is not a VK event: {result.body}")
        if result.status == 403:
            await ctx.limiter.hit(ctx.settings.rate_limit_public, "vk-refused", client_ip(request))
            raise Forbidden(f"Refused: {result.body}", "bad_secret")
        if result.status != 200:
            raise Unavailable(f"The channel cannot answer VK yet: {result.body}")
        if result.body != "ok":  # the confirmation handshake: no secret in it
            await ctx.limiter.hit(ctx.settings.rate_limit_public, "vk-confirm", client_ip(request))
            return PlainTextResponse(result.body)
        if result.events:
            await vk_service.store_events(session, channel, list(result.events), "callback")
            await commit_then_follow_up(session, ctx, after_answer=True)
    return PlainTextResponse("ok")
