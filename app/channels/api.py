from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.audit import service as audit
from app.channels import registry
from app.channels import service as channels_service
from app.channels.models import ChannelAccount
from app.channels.schemas import (
    CapabilitiesRead,
    ChannelCreate,
    ChannelCreated,
    ChannelPluginRead,
    ChannelRead,
    ChannelUpdate,
)
from app.core.deps import Ctx, Session, client_ip
from app.operators import scopes, visibility
from app.operators.auth import require
from app.operators.service import Principal

router = APIRouter(prefix="/api/v1/channels", tags=["channels"])
types_router = APIRouter(prefix="/api/v1/channel-types", tags=["channels"])


@types_router.get("", response_model=list[ChannelPluginRead])
async def list_channel_types(
    _: Annotated[Principal, Depends(require(scopes.CHANNELS_READ))],
) -> list[ChannelPluginRead]:
    """The channel types this installation knows, with what each can do (the console's
    labels, icons and template picker come from here). Every operator may read it."""
    return [
        ChannelPluginRead(
            type=p.type,
            label=p.label,
            contact_noun=p.contact_noun,
            icon=p.icon,
            capabilities=CapabilitiesRead.model_validate(p.capabilities, from_attributes=True),
        )
        for p in registry.all()
    ]


@router.get("", response_model=list[ChannelRead])
async def list_channels(
    principal: Annotated[Principal, Depends(require(scopes.CHANNELS_READ))], session: Session
) -> list[ChannelRead]:
    """The channels of the caller's teams, of no team and of conversations they see (admins
    and API keys: all)."""
    channels = await channels_service.list_channels(session, principal)
    return [channels_service.to_read(c) for c in channels]


@router.post("", response_model=ChannelCreated, status_code=201)
async def create_channel(
    body: ChannelCreate,
    principal: Annotated[Principal, Depends(require(scopes.CHANNELS_WRITE))],
    request: Request,
    session: Session,
    ctx: Ctx,
) -> ChannelCreated:
    channel, generated = await channels_service.create_channel(session, body, ctx.settings)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="channel.create",
        target_type="channel",
        target_id=channel.id,
        ip=client_ip(request),
        details={"type": channel.type, "name": channel.name, "credentials": body.credentials},
    )
    await session.commit()
    read = channels_service.to_read(channel)
    return ChannelCreated(**read.model_dump(), generated_credentials=generated)


@router.get("/{channel_id}", response_model=ChannelRead)
async def get_channel(
    channel_id: int,
    principal: Annotated[Principal, Depends(require(scopes.CHANNELS_READ))],
    session: Session,
) -> ChannelRead:
    """One the caller sees as in the list (app/operators/visibility.py)."""
    await visibility.require(session, principal, ChannelAccount, channel_id)
    return channels_service.to_read(await channels_service.get_channel(session, channel_id))


@router.patch("/{channel_id}", response_model=ChannelRead)
async def update_channel(
    channel_id: int,
    body: ChannelUpdate,
    principal: Annotated[Principal, Depends(require(scopes.CHANNELS_WRITE))],
    request: Request,
    session: Session,
    ctx: Ctx,
) -> ChannelRead:
    channel = await channels_service.update_channel(session, channel_id, body, ctx.settings)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="channel.update",
        target_type="channel",
        target_id=channel.id,
        ip=client_ip(request),
        details=body.model_dump(mode="json", exclude_unset=True),
    )
    await session.commit()
    return channels_service.to_read(channel)


@router.delete("/{channel_id}", status_code=204, response_class=Response)
async def delete_channel(
    channel_id: int,
    principal: Annotated[Principal, Depends(require(scopes.CHANNELS_WRITE))],
    request: Request,
    session: Session,
    ctx: Ctx,
) -> Response:
    """Disconnects the channel for good; its conversations and messages stay readable."""
    channel = await channels_service.delete_channel(session, channel_id, ctx.settings)
    await audit.record(
        session,
        actor_kind=principal.kind,
        actor_id=principal.id,
        action="channel.delete",
        target_type="channel",
        target_id=channel.id,
        ip=client_ip(request),
        details={"type": channel.type, "name": channel.name},
    )
    await session.commit()
    return Response(status_code=204)
