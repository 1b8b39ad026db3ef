"""POST /webhooks/telegram/{channel_id}: Telegram's webhook deliveries.

Answers fast: the update is stored in one short transaction and nothing else is called.
A button press is answered inside the webhook response itself (Telegram runs a method
given in the response body), which costs no extra request."""

from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from app.core.context import AppContext
from app.core.errors import DomainError, Unauthorized
from app.events.dispatch import commit_then_follow_up
from app.telegram import service as telegram_service
from connectors.telegram.parse import InvalidUpdate, parse_update

router = APIRouter(prefix="/webhooks/telegram", tags=["providers"])


class MalformedUpdate(DomainError):
    status_code = 400
    code = "malformed_update"


@router.post("/{channel_id}", status_code=200, response_class=Response)
async def telegram_webhook(
    channel_id: int,
    request: Request,
    secret: Annotated[str | None, Header(alias="X-Telegram-Bot-Api-Secret-Token")] = None,
) -> Response:
    # The session is opened here rather than as a dependency: this is a hot path, and
    # FastAPI's generator dependencies cost more than the work they wrap.
    ctx: AppContext = request.app.state.ctx
    async with ctx.sessions() as session:
        channel = await telegram_service.webhook_channel(session, channel_id)
        if not telegram_service.secret_matches(channel, secret):
            raise Unauthorized("Missing or wrong X-Telegram-Bot-Api-Secret-Token", "bad_secret")
        try:
            parsed = parse_update(orjson.loads(await request.body()))
        except orjson.JSONDecodeError:
            raise MalformedUpdate("The body is not valid JSON", "malformed_json") from None
        except InvalidUpdate as exc:
            raise MalformedUpdate(str(exc)) from None
        await telegram_service.store_update(session, channel, parsed)
        await commit_then_follow_up(session, ctx, after_answer=True)
    if parsed.callback_query_id:
        return JSONResponse(
            {"method": "answerCallbackQuery", "callback_query_id": parsed.callback_query_id}
        )
    return Response(status_code=200)
