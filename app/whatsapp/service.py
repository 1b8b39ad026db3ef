"""WhatsApp channel accounts: the connector, templates and webhook batches (the channel's
rules are its plugin's, app/whatsapp/plugin.py)."""

import hmac
import logging

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels import service as channels_service
from app.channels.models import ChannelAccount
from app.config import Settings
from app.core.errors import DomainError, Forbidden, Invalid, Unauthorized
from app.delivery import pending_statuses
from app.delivery.statuses import apply_status
from app.ingest.service import apply_edit, ingest
from app.whatsapp.schemas import TemplateSpec, WebhookResult
from connectors import registry as connectors
from connectors.base import InboundMessage, MessageEdit
from connectors.whatsapp.connector import WhatsAppConnector
from connectors.whatsapp.parse import InvalidPayload, WebhookEvent, parse_webhook
from connectors.whatsapp.signature import verify_signature

log = logging.getLogger(__name__)


def configure_connector(settings: Settings) -> None:
    """Install the connector with this deployment's Graph API base and throughput."""
    connectors.register(
        WhatsAppConnector(
            graph_api_base=settings.whatsapp_graph_api_base,
            rate_per_account=settings.whatsapp_rate_per_account,
            timeout=settings.whatsapp_timeout_seconds,
        )
    )


# ---------------------------------------------------------------- templates


def templates_of(channel: ChannelAccount) -> list[TemplateSpec]:
    return [TemplateSpec.model_validate(t) for t in channel.settings.get("templates") or []]


async def set_templates(
    session: AsyncSession, channel: ChannelAccount, templates: list[TemplateSpec]
) -> list[TemplateSpec]:
    if channel.type != WhatsAppConnector.channel_type:
        raise Invalid("Templates belong to WhatsApp channels", "templates_not_supported")
    keys = [(t.name, t.language) for t in templates]
    if len(keys) != len(set(keys)):
        raise Invalid("A template is listed twice for one language", "duplicate_template")
    # A new dict, so SQLAlchemy sees the JSONB column change.
    channel.settings = {**channel.settings, "templates": [t.model_dump() for t in templates]}
    await session.flush()
    await channels_service.changed(session, channel)
    return templates


# ---------------------------------------------------------------- webhooks


async def get_webhook_channel(session: AsyncSession, channel_id: int) -> ChannelAccount:
    return await channels_service.webhook_channel(
        session, channel_id, WhatsAppConnector.channel_type, "Unknown WhatsApp channel"
    )


def check_verify_token(channel: ChannelAccount, mode: str | None, token: str | None) -> None:
    expected = str(channel.credentials.get("verify_token") or "")
    if (
        mode != "subscribe"
        or not expected
        or not hmac.compare_digest(expected.encode(), (token or "").encode())
    ):
        raise Forbidden("The verify token does not match", "invalid_verify_token")


def verified_events(
    channel: ChannelAccount, body: bytes, signature: str | None
) -> list[WebhookEvent]:
    """Checks the signature over the raw bytes, then reads the body's messages, edits and
    statuses in payload order."""
    if not verify_signature(str(channel.credentials.get("app_secret") or ""), body, signature):
        raise Unauthorized("The X-Hub-Signature-256 signature does not match", "bad_signature")
    try:
        return parse_webhook(orjson.loads(body))
    except (orjson.JSONDecodeError, InvalidPayload) as exc:
        raise DomainError("The body is not a WhatsApp webhook", "malformed_json") from exc


async def route_events(
    session: AsyncSession, channel: ChannelAccount, events: list[WebhookEvent]
) -> list[tuple[ChannelAccount, WebhookEvent]]:
    """Each event with the channel (business number) it belongs to; unknown numbers skipped."""
    channels: dict[str, ChannelAccount | None] = {}
    routed = []
    for item in events:
        target = await _channel_for(session, channel, item, channels)
        if target is not None:
            routed.append((target, item))
    return routed


async def handle_event(
    session: AsyncSession, channel: ChannelAccount, item: WebhookEvent, result: WebhookResult
) -> None:
    """One event in the caller's transaction, counted in `result`. The caller gives each
    event a transaction of its own: a body naming several senders then never holds one
    sender's lock while waiting for another's (Meta posts bodies in parallel), and a
    redelivery of the body changes nothing."""
    event = item.event
    if isinstance(event, InboundMessage):
        stored = await ingest(session, channel, event)
        if stored.duplicate:
            result.duplicates += 1
        else:
            result.messages += 1
    elif isinstance(event, MessageEdit):
        if await apply_edit(session, channel, event) is not None:
            result.edits += 1
    elif await apply_status(session, channel, event) is not None:
        result.statuses += 1
    else:
        await pending_statuses.keep_if_unknown(session, channel.id, event)


async def _channel_for(
    session: AsyncSession,
    channel: ChannelAccount,
    item: WebhookEvent,
    cache: dict[str, ChannelAccount | None],
) -> ChannelAccount | None:
    """Meta posts every number of one app to the app's single callback URL: an event for
    another number of ours goes to that number's channel (same app secret, so the signature
    we checked vouches for it); one for a number we do not know is skipped."""
    number = item.phone_number_id
    if number is None or number == str(channel.credentials.get("phone_number_id")):
        return channel
    if number not in cache:
        # Credentials are encrypted at rest, so the match is made here, not in SQL.
        candidates = await session.scalars(
            select(ChannelAccount).where(
                ChannelAccount.type == WhatsAppConnector.channel_type,
                ChannelAccount.is_active.is_(True),
                ChannelAccount.id != channel.id,
            )
        )
        secret = str(channel.credentials.get("app_secret") or "")
        found = next(
            (
                c
                for c in candidates
                if str(c.credentials.get("phone_number_id")) == number
                and hmac.compare_digest(
                    str(c.credentials.get("app_secret") or "").encode(), secret.encode()
                )
            ),
            None,
        )
        if found is None:
            log.warning("whatsapp webhook for unknown phone number id %s skipped", number)
        cache[number] = found
    return cache[number]
