"""The public widget API: sessions, messages, history and the visitor WebSocket."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.attachments import service as attachments_service
from app.attachments.api import UPLOAD_BODY, read_one_file
from app.attachments.schemas import AttachmentRead
from app.audit import service as audit
from app.channels import service as channels_service
from app.channels.models import ChannelAccount
from app.console.i18n import catalogue_json, pick_language
from app.contacts.models import Contact
from app.core.context import AppContext
from app.core.deps import Ctx, Session, client_ip
from app.core.errors import DomainError, Forbidden, NotFound, Unauthorized
from app.events.dispatch import commit_then_follow_up
from app.inbox import queries as inbox_queries
from app.operators import scopes, visibility
from app.operators.auth import require
from app.operators.service import Principal
from app.realtime import tickets
from app.realtime.schemas import WsTicketRead
from app.webchat import service as webchat_service
from app.webchat.schemas import (
    SessionCreate,
    SessionRead,
    WidgetConfigRead,
    WidgetMessageCreate,
    WidgetMessagePage,
    WidgetMessagePosted,
    WidgetTexts,
    to_widget_message,
)
from app.webchat.service import Visitor
from app.webchat.ws import serve_visitor
from connectors.webchat.connector import WebchatConnector

router = APIRouter(prefix="/widget/v1/{widget_key}", tags=["widget"])
_bearer = HTTPBearer(auto_error=False)


async def widget_channel(
    widget_key: str, request: Request, ctx: Ctx, session: Session
) -> ChannelAccount:
    await ctx.limiter.hit(ctx.settings.rate_limit_public, "widget-ip", client_ip(request))
    if len(widget_key) > 64:
        raise NotFound("Unknown widget key", "unknown_widget")
    channel = await channels_service.get_by_public_key(session, widget_key)
    if channel.type != WebchatConnector.channel_type:
        raise NotFound("Unknown widget key", "unknown_widget")
    if not webchat_service.allowed_origin(channel, request.headers.get("origin")):
        raise Forbidden("This site is not allowed to use the widget", "origin_not_allowed")
    return channel


async def current_visitor(
    ctx: Ctx,
    session: Session,
    channel: Annotated[ChannelAccount, Depends(widget_channel)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Visitor:
    if bearer is None:
        raise Unauthorized("A visitor token is required", headers={"WWW-Authenticate": "Bearer"})
    return await webchat_service.authenticate_visitor(session, ctx, bearer.credentials, channel)


WidgetChannel = Annotated[ChannelAccount, Depends(widget_channel)]
CurrentVisitor = Annotated[Visitor, Depends(current_visitor)]


@router.get("/config", response_model=WidgetConfigRead)
async def widget_config(
    channel: WidgetChannel,
    request: Request,
    ctx: Ctx,
    lang: Annotated[
        str | None, Query(max_length=35, description="data-lang or the browser's")
    ] = None,
) -> WidgetConfigRead:
    """The widget's texts in the visitor's language (`lang`, else Accept-Language, else
    English): the channel's own (settings.texts) and the widget's catalogue for the rest."""
    chosen = pick_language(lang, request.headers.get("accept-language"))
    own = (channel.settings.get("texts") or {}).get(chosen) or {}
    catalogue = catalogue_json("widget", chosen)
    return WidgetConfigRead(
        lang=chosen,
        texts=WidgetTexts.model_validate(own),
        max_upload_bytes=ctx.settings.widget_attachment_max_bytes,
        messages=catalogue["messages"],
        plural=catalogue["plural"],
    )


@router.post("/sessions", response_model=SessionRead, status_code=201)
async def create_session(
    body: SessionCreate, channel: WidgetChannel, request: Request, ctx: Ctx, session: Session
) -> SessionRead:
    await ctx.limiter.hit(ctx.settings.rate_limit_widget_sessions, "session-ip", client_ip(request))
    token, contact_id, conversation_id = await webchat_service.start_session(
        session,
        channel,
        ctx.signing_key,
        ctx.settings.visitor_token_ttl_seconds,
        identifier=body.identifier,
        identifier_hash=body.identifier_hash,
        name=body.name,
        email=body.email,
    )
    await session.commit()
    return SessionRead(visitor_token=token, conversation_id=conversation_id, contact_id=contact_id)


@router.post(
    "/messages",
    response_model=WidgetMessagePosted,
    status_code=201,
    dependencies=[Depends(_bearer)],  # documents the bearer scheme; checked below
)
async def post_message(
    widget_key: str, body: WidgetMessageCreate, request: Request
) -> WidgetMessagePosted:
    # The busiest public endpoint: one plain function instead of a tree of dependencies
    # (FastAPI solves each node per request: ~15% of this endpoint's CPU went there).
    ctx: AppContext = request.app.state.ctx
    async with ctx.sessions() as session:
        channel = await widget_channel(widget_key, request, ctx, session)
        # Revocation: refused here if this process knows of it, else checked in the
        # ingest's own statement (post_message), a lookup saved.
        visitor = webchat_service.reject_known_revoked(
            ctx,
            webchat_service.read_visitor_token(ctx.signing_key, _bearer_token(request), channel),
        )
        await ctx.limiter.hit(
            ctx.settings.rate_limit_widget_messages, "visitor", visitor.external_id
        )
        await ctx.limiter.hit(
            ctx.settings.rate_limit_widget_messages_ip, "visitor-ip", client_ip(request)
        )
        result, stored = await webchat_service.post_message(
            session,
            channel,
            visitor,
            text=body.text,
            client_message_id=body.client_message_id,
            max_chars=ctx.settings.max_message_chars,
            attachment_ids=body.attachment_ids,
            links=attachments_service.visitor_links(ctx),
            versions=webchat_service.versions_of(ctx),
        )
        await commit_then_follow_up(session, ctx, after_answer=True)
    return WidgetMessagePosted(message=stored, duplicate=result.duplicate)


UPLOAD_PATTERN = "/widget/v1/*/attachments"  # its own body limit (app/main.py)


@router.post(
    "/attachments",
    response_model=AttachmentRead,
    status_code=201,
    openapi_extra=UPLOAD_BODY,
    responses={
        413: {"description": "The file is over CHATCENTRE_WIDGET_ATTACHMENT_MAX_BYTES"},
        415: {"description": "The file's bytes are not of an allowed type"},
        429: {"description": "Too many uploads from this visitor or address"},
    },
)
async def upload_file(
    visitor: CurrentVisitor, request: Request, ctx: Ctx, session: Session
) -> AttachmentRead:
    """A visitor's file (multipart/form-data field `file`), typed by its bytes, for
    `attachment_ids` of POST .../messages; only this visitor may send it. The answer's `url`
    is a signed, expiring link."""
    await ctx.limiter.hit(ctx.settings.rate_limit_widget_uploads, "upload", visitor.external_id)
    await ctx.limiter.hit(
        ctx.settings.rate_limit_widget_uploads_ip, "upload-ip", client_ip(request)
    )
    rules = attachments_service.UploadRules.for_visitors(ctx.settings)
    filename, content = await read_one_file(request, rules.max_bytes)
    attachment = await attachments_service.upload_by_visitor(
        session,
        attachments_service.storage_of(ctx),
        visitor.contact_id,
        rules,
        filename=filename,
        content=content,
    )
    await session.commit()
    links = attachments_service.visitor_links(ctx)
    return links.read(attachments_service.descriptor(attachment))


def _bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("A visitor token is required", headers={"WWW-Authenticate": "Bearer"})
    return token


@router.get("/messages", response_model=WidgetMessagePage)
async def list_messages(
    visitor: CurrentVisitor,
    ctx: Ctx,
    session: Session,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> WidgetMessagePage:
    ids = await webchat_service.visitor_conversation_ids(session, visitor)
    if not ids:
        return WidgetMessagePage(items=[], next_cursor=str(after) if after is not None else None)
    rows, newest, _ = await inbox_queries.list_messages(
        session, ids, after=after, limit=limit, visitor_view=True
    )
    links = attachments_service.visitor_links(ctx)
    return WidgetMessagePage(items=[to_widget_message(m, links) for m in rows], next_cursor=newest)


@router.post("/ws-ticket", response_model=WsTicketRead, status_code=201)
async def ws_ticket(visitor: CurrentVisitor, ctx: Ctx, session: Session) -> WsTicketRead:
    """A single-use ticket for WS /widget/v1/{widget_key}/ws?ticket=...: get one right
    before each connect or reconnect."""
    ttl = ctx.settings.ws_ticket_ttl_seconds
    claims = webchat_service.ticket_claims(visitor)
    ticket = await tickets.issue(session, tickets.VISITOR, claims, ttl)
    await session.commit()
    return WsTicketRead(ticket=ticket, expires_in=ttl)


@router.websocket("/ws")
async def visitor_ws(
    websocket: WebSocket,
    widget_key: str,
    ticket: str = "",
    token: str = "",
    after: int | None = None,
) -> None:
    """?ticket= from POST .../ws-ticket; ?token=<visitor token> is deprecated (README)."""
    ctx = websocket.app.state.ctx
    try:
        async with ctx.sessions() as session:
            channel = await channels_service.get_by_public_key(session, widget_key)
            if not webchat_service.allowed_origin(channel, websocket.headers.get("origin")):
                raise Forbidden("This site is not allowed to use the widget", "origin_not_allowed")
            if ticket or not token:
                claims = await tickets.redeem(session, ticket, tickets.VISITOR)
                await session.commit()  # used up, whatever follows
                visitor = webchat_service.visitor_from_ticket(claims, channel)
                visitor = await webchat_service.ensure_current(session, ctx, visitor)
            else:
                visitor = await webchat_service.authenticate_visitor(session, ctx, token, channel)
    except DomainError as exc:
        # Accept first: a close code before the handshake is lost (the client only sees an
        # HTTP 403), and browsers cannot read HTTP statuses of failed handshakes at all.
        await websocket.accept()
        await websocket.close(code=4401 if exc.status_code == 401 else 4403, reason=exc.code)
        return
    await serve_visitor(websocket, ctx, visitor, after)


# An operator's endpoint under the contacts' path, here because it acts on the widget's own
# state at once (this process's cache of token versions; the bus tells the other nodes).
admin_router = APIRouter(prefix="/api/v1", tags=["contacts"])


@admin_router.post("/contacts/{contact_id}/revoke-widget-sessions", status_code=204)
async def revoke_widget_sessions(
    contact_id: int,
    principal: Annotated[Principal, Depends(require(scopes.CONTACTS_WRITE))],
    request: Request,
    ctx: Ctx,
    session: Session,
) -> Response:
    """End every web chat session of the contact (a leaked token, a shared computer, the
    site's user signed out): their visitor tokens answer 401 `token_revoked` from now on and
    their open widget sockets close with 4401. A new session can be started as before."""
    await visibility.require(session, principal, Contact, contact_id)
    await webchat_service.revoke_sessions(session, contact_id)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="contact.revoke_widget_sessions",
        target_type="contact",
        target_id=contact_id,
        ip=client_ip(request),
    )
    await session.commit()
    webchat_service.versions_of(ctx).forget([contact_id])  # the bus tells the other nodes
    return Response(status_code=204)
