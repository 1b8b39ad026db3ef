"""Sending one chain step: pick the channel the client really uses, render the text (or the
channel's approved template outside its reply window, e.g. WhatsApp's 24 hours), queue it
through the outbox exactly once per (order, step); flag the order for its manager when
nothing can reach the client."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.chains.models import CHAIN, ChainTemplate, Order
from app.chains.templates import render
from app.channels import registry
from app.channels.models import ChannelAccount
from app.channels.schemas import TemplateSend
from app.contacts.models import Contact, ContactIdentity
from app.events.dispatch import raise_event
from app.events.types import OrderAlert
from app.inbox import commands as inbox_commands
from app.inbox.models import Conversation, Message
from app.touchpoints import service as touchpoints_service
from app.touchpoints.models import Reaction, TouchKind


@dataclass(frozen=True, slots=True)
class Target:
    channel: ChannelAccount
    identity: ContactIdentity
    template: TemplateSend | None = None  # set: outside the channel's reply window


@dataclass(frozen=True, slots=True)
class Sent:
    message: Message
    conversation: Conversation
    as_template: bool


async def template_for(session: AsyncSession, key: str, language: str) -> ChainTemplate | None:
    rows = (
        await session.scalars(
            select(ChainTemplate).where(
                ChainTemplate.status == key, ChainTemplate.language.in_((language, "en"))
            )
        )
    ).all()
    return next((t for t in rows if t.language == language), rows[0] if rows else None)


async def choose_target(
    session: AsyncSession,
    contact_id: int,
    step: str,
    language: str,
    variables: dict[str, str],
    *,
    channel_ok: Callable[[ChannelAccount], bool] | None = None,
) -> tuple[Target | None, str]:
    """The preferred channel, else the one the client last wrote from, else any reachable
    identity; one outside its channel's reply window only with an approved template.
    `channel_ok`: only channels it accepts (a feature switched on per channel).
    Returns (target, why none) ."""
    query = (
        select(ContactIdentity, ChannelAccount, Contact.preferred_channel_id)
        .join(ChannelAccount, ChannelAccount.id == ContactIdentity.channel_account_id)
        .join(Contact, Contact.id == ContactIdentity.contact_id)
        .where(
            ContactIdentity.contact_id == contact_id,
            ContactIdentity.reachable.is_(True),
            ChannelAccount.is_active.is_(True),
        )
    )
    rows = [
        (r[0], r[1], r[2])
        for r in (await session.execute(query)).all()
        if channel_ok is None or channel_ok(r[1])
    ]
    epoch = datetime.min.replace(tzinfo=UTC)
    rows.sort(
        key=lambda r: (
            r[1].id != r[2],
            -(r[0].last_inbound_at or epoch).timestamp(),
            r[0].id,
        )
    )
    why = "no_reachable_channel"
    for identity, channel, _ in rows:
        plugin = registry.get(channel.type)
        window = plugin.reply_window(identity.last_inbound_at)
        if not plugin.capabilities.reply_window or (window is not None and window.open):
            return Target(channel, identity), ""
        template = plugin.template_for_step(channel, step, language, variables)
        if template is not None:
            return Target(channel, identity, template), ""
        why = f"{plugin.type}_window_closed_no_template"
    return None, why


async def queue_to_target(
    session: AsyncSession,
    target: Target,
    contact_id: int,
    text: str,
    meta: dict[str, Any],
    *,
    external_id: str,
    chain: str,
    step: str,
    order_id: int | None = None,
) -> tuple[Message, Conversation]:
    """Queue an automated message on the chosen channel, once (by external_id): as the
    channel's approved template where choose_target picked one, else as text. A touchpoint
    of kind notification records it."""
    conv = await inbox_commands.open_for_contact(session, contact_id, target.channel.id)
    msg = await inbox_commands.queue_automated(
        session,
        conv,
        target.channel,
        text,
        meta,
        template=target.template,
        external_id=external_id,
        chain=chain,
        step=step,
        order_id=order_id,
    )
    return msg, conv


async def send_step(
    session: AsyncSession,
    order: Order,
    step: str,
    template: ChainTemplate,
    variables: dict[str, str],
    *,
    once_key: str | None = None,
) -> Sent | None:
    """Queue the step's message once (external_id chain/<order>/<once_key or step>: a step
    that may carry news twice, a later delay, keys each piece of news); None when no channel
    can take it (the order is then flagged)."""
    target, why = await choose_target(session, order.contact_id, step, order.language, variables)
    if target is None:
        await flag(session, order, why, step)
        return None
    text = render(template.text, variables)
    meta: dict[str, Any] = {"chain": CHAIN, "step": step, "order": order.external_id}
    meta |= registry.get(target.channel.type).chain_meta(
        target.channel, step, order.language, variables
    )
    if target.template is None and template.buttons:
        meta["buttons"] = [
            [{"text": b["text"], "data": f"chain:{order.id}:{step}:{b['action']}"} for b in row]
            for row in template.buttons
        ]
    msg, conv = await queue_to_target(
        session,
        target,
        order.contact_id,
        text,
        meta,
        external_id=f"chain/{order.id}/{once_key or step}",
        chain=CHAIN,
        step=step,
        order_id=order.id,
    )
    return Sent(msg, conv, as_template=target.template is not None)


async def alert(
    session: AsyncSession,
    order: Order,
    what: str,
    step: str | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """A broken link the owner manager must see: a negative alert touchpoint and an event to
    the owner's console."""
    owner = await session.scalar(select(Contact.owner_id).where(Contact.id == order.contact_id))
    await touchpoints_service.record(
        session,
        contact_id=order.contact_id,
        order_id=order.id,
        operator_id=owner,
        channel="internal",
        direction="internal",
        kind=TouchKind.alert,
        reaction=Reaction.negative,
        chain=CHAIN,
        step=step,
        meta={"alert": what, "order": order.external_id, **(detail or {})},
    )
    # Without an owner there is nobody to address it to: stored, not published.
    await raise_event(
        session,
        OrderAlert(
            order_id=order.id,
            order=order.external_id,
            alert=what,
            step=step,
            notify_operator_id=owner,
        ),
    )


async def flag(session: AsyncSession, order: Order, reason: str, step: str) -> None:
    order.flagged = True
    order.flag_reason = reason
    await session.flush()
    await alert(session, order, reason, step)
