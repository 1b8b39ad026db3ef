from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response

from app.attachments import service as attachments_service
from app.attachments.api import file_response
from app.core.deps import Ctx, Session
from app.core.errors import NotFound, Unavailable
from app.events.dispatch import commit_then_follow_up
from app.inbox import commands as inbox_commands
from app.inbox import queries as inbox_queries
from app.inbox.models import ConversationStatus
from app.inbox.schemas import (
    ConversationCounts,
    ConversationPage,
    ConversationRead,
    IntegrationMessageCreate,
    MessagePage,
    MessageRead,
    ReplyCreate,
    StatusRequest,
)
from app.labels import service as labels_service
from app.labels.schemas import LabelList, LabelNames
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal
from connectors.base import MediaUnavailable, TemporaryError
from connectors.registry import get_connector

router = APIRouter(prefix="/api/v1", tags=["inbox"])

Reader = Annotated[Principal, Depends(require(scopes.CONVERSATIONS_READ))]
Writer = Annotated[Principal, Depends(require(scopes.CONVERSATIONS_WRITE))]


async def _read(session: Session, conversation_id: int) -> ConversationRead:
    read = await inbox_queries.read_conversation(session, conversation_id)
    assert read is not None
    return read


@router.get("/conversations", response_model=ConversationPage)
async def list_conversations(
    principal: Reader,
    session: Session,
    status: ConversationStatus | None = None,
    assignee: Annotated[str | None, Query(description="operator id, 'me' or 'none'")] = None,
    channel: Annotated[int | None, Query(description="channel account id")] = None,
    team: int | None = None,
    slow_response: Annotated[
        bool | None, Query(description="only those that missed the response target (or not)")
    ] = None,
    label: Annotated[
        str | None, Query(max_length=50, description="only those carrying this label")
    ] = None,
    sort: Annotated[
        Literal["activity", "waiting"],
        Query(description="activity: the latest first; waiting: the longest-waiting first"),
    ] = "activity",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
) -> ConversationPage:
    items, next_cursor = await inbox_queries.list_conversations(
        session,
        principal,
        status=status,
        assignee=assignee,
        channel_id=channel,
        team_id=team,
        slow_response=slow_response,
        label=label,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    return ConversationPage(items=items, next_cursor=next_cursor)


@router.get("/conversations/counts", response_model=ConversationCounts)
async def count_conversations(
    principal: Reader,
    session: Session,
    channel: int | None = None,
    team: int | None = None,
    label: Annotated[str | None, Query(max_length=50)] = None,
) -> ConversationCounts:
    """How many conversations each console tab holds, of those the caller sees."""
    counts = await inbox_queries.count_conversations(
        session, principal, channel_id=channel, team_id=team, label=label
    )
    return ConversationCounts(**counts)


@router.get("/conversations/{conversation_id}", response_model=ConversationRead)
async def get_conversation(
    conversation_id: int, principal: Reader, session: Session
) -> ConversationRead:
    await inbox_queries.get_conversation(session, principal, conversation_id)
    return await _read(session, conversation_id)


@router.get("/conversations/{conversation_id}/messages", response_model=MessagePage)
async def list_messages(
    conversation_id: int,
    principal: Reader,
    session: Session,
    after: Annotated[int | None, Query(ge=0)] = None,
    before: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> MessagePage:
    await inbox_queries.get_conversation(session, principal, conversation_id)
    rows, newest, oldest = await inbox_queries.list_messages(
        session, conversation_id, after=after, before=before, limit=limit
    )
    return MessagePage(
        items=[inbox_queries.to_message_read(m) for m in rows],
        next_cursor=newest,
        prev_cursor=oldest,
    )


@router.post(
    "/conversations/{conversation_id}/messages", response_model=MessageRead, status_code=201
)
async def reply(
    conversation_id: int,
    body: ReplyCreate,
    principal: Writer,
    ctx: Ctx,
    session: Session,
    response: Response,
) -> MessageRead:
    msg, created = await inbox_commands.reply(
        session,
        principal,
        conversation_id,
        text=body.text,
        private=body.private,
        client_message_id=body.client_message_id,
        max_chars=ctx.settings.max_message_chars,
        template=body.template,
        attachment_ids=body.attachment_ids,
    )
    await session.commit()
    if not created:
        response.status_code = 200
    return inbox_queries.to_message_read(msg)


@router.post("/conversations/{conversation_id}/status", response_model=ConversationRead)
async def set_status(
    conversation_id: int, body: StatusRequest, principal: Writer, session: Session
) -> ConversationRead:
    await inbox_commands.set_status(
        session, principal, conversation_id, body.status, body.snoozed_until
    )
    await session.commit()
    return await _read(session, conversation_id)


@router.get("/conversations/{conversation_id}/labels", response_model=LabelNames)
async def get_labels(conversation_id: int, principal: Reader, session: Session) -> LabelNames:
    await inbox_queries.get_conversation(session, principal, conversation_id)
    return LabelNames(
        labels=await labels_service.names_of(session, "conversation", conversation_id)
    )


@router.post("/conversations/{conversation_id}/labels", response_model=LabelNames)
async def set_labels(
    conversation_id: int, body: LabelList, principal: Writer, ctx: Ctx, session: Session
) -> LabelNames:
    """The conversation carries exactly these labels afterwards (as Chatwoot's route: send
    the whole list). 422 unknown_label names a label nobody created."""
    await inbox_queries.get_conversation(session, principal, conversation_id, lock=True)
    names = await labels_service.set_labels(
        session, "conversation", conversation_id, body.labels, by=principal.operator_id
    )
    await commit_then_follow_up(session, ctx)
    return LabelNames(labels=names)


@router.post("/conversations/{conversation_id}/read", response_model=ConversationRead)
async def mark_read(conversation_id: int, principal: Writer, session: Session) -> ConversationRead:
    await inbox_commands.mark_read(session, principal, conversation_id)
    await session.commit()
    return await _read(session, conversation_id)


@router.post("/messages", response_model=MessageRead, status_code=201)
async def integration_send(
    body: IntegrationMessageCreate,
    principal: Annotated[Principal, Depends(require(scopes.MESSAGES_WRITE))],
    ctx: Ctx,
    session: Session,
    response: Response,
) -> MessageRead:
    msg, created = await inbox_commands.integration_send(
        session,
        principal,
        idempotency_key=body.idempotency_key,
        text=body.text,
        conversation_id=body.conversation_id,
        contact_id=body.contact_id,
        channel_id=body.channel_id,
        max_chars=ctx.settings.max_message_chars,
        template=body.template,
        attachment_ids=body.attachment_ids,
    )
    await session.commit()
    if not created:
        response.status_code = 200
    return inbox_queries.to_message_read(msg)


_FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}}
}


@router.get("/attachments/{attachment_id}", response_class=Response, responses=_FILE_RESPONSE)
async def download_upload(
    attachment_id: Annotated[str, Path(max_length=64)],
    principal: Reader,
    ctx: Ctx,
    session: Session,
) -> Response:
    """An uploaded file, for its uploader and for whoever sees a conversation where a
    message carries it (404 for everyone else)."""
    attachment = await inbox_queries.attachment_for(session, principal, attachment_id)
    return await file_response(ctx, attachment)


@router.get(
    "/messages/{message_id}/attachments/{index}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download_attachment(
    message_id: int, index: int, principal: Reader, ctx: Ctx, session: Session
) -> Response:
    """Streams an inbound attachment from the provider (Telegram getFile, WhatsApp media URL)
    so operators never need the bot token or the access token; an uploaded file a reply
    carried comes from our storage."""
    channel, attachment = await inbox_queries.attachment_of(session, principal, message_id, index)
    if attachments_service.is_upload(attachment):
        upload = await attachments_service.get(session, attachment["attachment_id"])
        return await file_response(ctx, upload)
    try:
        media = await get_connector(channel.type).fetch_media(
            channel.credentials, channel.settings, attachment
        )
    except MediaUnavailable as exc:
        raise NotFound(str(exc), "media_unavailable") from exc
    except TemporaryError as exc:
        retry = str(max(1, round(exc.retry_after))) if exc.retry_after else "5"
        raise Unavailable(
            "The provider is not answering; try again",
            "provider_unavailable",
            headers={"Retry-After": retry},
        ) from exc
    headers = attachments_service.download_headers(media.filename) if media.filename else {}
    return Response(media.content, media_type=media.content_type, headers=headers)
