"""Uploading files (operators and integrations) and the signed links web-chat visitors
download them with. Operators download through the inbox (visibility is its rule)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from starlette.datastructures import UploadFile

from app.attachments import service as attachments_service
from app.attachments.models import Attachment
from app.attachments.schemas import AttachmentRead
from app.attachments.storage import StoredFileMissing
from app.core.context import AppContext
from app.core.deps import Ctx, Session, client_ip
from app.core.errors import Invalid, NotFound
from app.operators import scopes
from app.operators.auth import require
from app.operators.service import Principal

router = APIRouter(tags=["attachments"])

UPLOAD_PATH = "/api/v1/attachments"
# Room for the multipart framing around the file (boundaries, part headers).
MULTIPART_OVERHEAD = 16 * 1024

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "additionalProperties": False,
                }
            }
        },
    }
}


@router.post(
    UPLOAD_PATH,
    response_model=AttachmentRead,
    status_code=201,
    openapi_extra=UPLOAD_BODY,
    responses={
        413: {"description": "The file is over CHATCENTRE_ATTACHMENT_MAX_BYTES"},
        415: {"description": "The file's bytes are not of an allowed type"},
    },
)
async def upload(
    request: Request,
    principal: Annotated[Principal, Depends(require(scopes.MESSAGES_WRITE))],
    ctx: Ctx,
    session: Session,
) -> AttachmentRead:
    """One file as multipart/form-data field `file`. Its type is judged from its bytes;
    what the client declares is ignored. Reference the answer's id in `attachment_ids` of
    a reply or an integration send."""
    rules = attachments_service.UploadRules.of(ctx.settings)
    # Parsed here, after the caller is known: nobody unauthenticated gets a body read.
    filename, content = await read_one_file(request, rules.max_bytes)
    attachment = await attachments_service.upload(
        session,
        attachments_service.storage_of(ctx),
        principal,
        rules,
        filename=filename,
        content=content,
    )
    await session.commit()
    return attachments_service.to_read(attachment)


async def read_one_file(request: Request, max_bytes: int) -> tuple[str | None, bytes]:
    """The one file of a multipart/form-data body (field `file`), read up to max_bytes + 1
    (so one byte over is seen as over)."""
    async with request.form(max_files=4, max_fields=16) as form:
        unknown = sorted(set(form.keys()) - {"file"})
        if unknown:
            raise Invalid(f"Unknown form fields: {', '.join(unknown)}", "unknown_field")
        files = form.getlist("file")
        if len(files) != 1 or not isinstance(files[0], UploadFile):
            raise Invalid("Send one file as multipart/form-data field 'file'", "no_file")
        return files[0].filename, await files[0].read(max_bytes + 1)


@router.get("/files/{token}", response_class=Response)
async def download_by_link(
    token: Annotated[str, Path(max_length=1000)], request: Request, ctx: Ctx, session: Session
) -> Response:
    """A file by the signed, expiring link a web-chat visitor was given: the link is the
    only key (no token needed, none helps); a wrong or expired one is 404."""
    await ctx.limiter.hit(ctx.settings.rate_limit_public, "files-ip", client_ip(request))
    attachment_id = attachments_service.attachment_id_of_link(ctx.signing_key, token)
    attachment = await attachments_service.get(session, attachment_id)
    return await file_response(ctx, attachment)


async def file_response(ctx: AppContext, attachment: Attachment) -> Response:
    try:
        content = await attachments_service.storage_of(ctx).get(attachment.sha256)
    except StoredFileMissing as exc:
        raise NotFound("The file is gone from the storage", "media_unavailable") from exc
    return Response(
        content,
        media_type=attachment.content_type,
        headers=attachments_service.download_headers(attachment.filename),
    )
