"""Typing indicators: a signal, never stored. A socket says "typing" (at most once per
TYPING_EVERY per conversation); the node that hears it checks who may say so and publishes
it on the bus, so every node's hub passes it to the sockets concerned (the operators who
see the chat, or the visitor's widget). A channel whose connector can show typing to the
client (Telegram's chat action) is told by that same node, at most once per PROVIDER_EVERY."""

import contextlib
import logging
import time
from collections import OrderedDict

from sqlalchemy import select

from app.channels.models import ChannelAccount
from app.contacts.models import ContactIdentity
from app.core.context import AppContext
from app.inbox.models import Conversation
from app.inbox.visibility import visible_to
from app.operators.service import Principal
from connectors.base import PermanentError, TemporaryError
from connectors.registry import get_connector

log = logging.getLogger(__name__)

TYPING_EVERY = 2.0  # seconds: the widget and the console show "typing" for ~5 s after one
PROVIDER_EVERY = 4.0  # Telegram shows a chat action for 5 s
VISITOR_TYPING = "typing.visitor"
OPERATOR_TYPING = "typing.operator"


class Throttle:
    """Lets a key through at most once per `every` seconds (bounded memory)."""

    MAX_KEYS = 10_000

    def __init__(self, every: float) -> None:
        self.every = every
        self._last: OrderedDict[object, float] = OrderedDict()

    def allow(self, key: object) -> bool:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self.MAX_KEYS:
            self._last.popitem(last=False)
        return True


class ProviderTyping(Throttle):
    """One per process: the chat actions sent to providers."""


async def operator_typing(ctx: AppContext, principal: Principal, conversation_id: int) -> None:
    """An operator types in a conversation they see: published for the visitor's widget
    (on whichever node it is), and the provider told where the channel can show it."""
    async with ctx.sessions() as session:
        row = (
            await session.execute(
                select(Conversation, ChannelAccount, ContactIdentity.external_id)
                .join(ChannelAccount, ChannelAccount.id == Conversation.channel_account_id)
                .outerjoin(ContactIdentity, ContactIdentity.id == Conversation.identity_id)
                .where(Conversation.id == conversation_id, *visible_to(principal))
            )
        ).one_or_none()
    if row is None:
        return  # not theirs to see: nothing said, nothing told
    conv, channel, recipient = row
    ctx.bus.publish(
        [
            {
                "type": OPERATOR_TYPING,
                "conversation_id": conv.id,
                "contact_id": conv.contact_id,
                "channel_id": channel.id,
                "operator_id": principal.operator_id,
            }
        ]
    )
    connector = get_connector(channel.type)
    # Optional in the connector protocol: only channels that show typing have it.
    send_typing = getattr(connector, "send_typing", None)
    if send_typing is None or recipient is None:
        return
    if not ctx.shared(ProviderTyping, lambda: ProviderTyping(PROVIDER_EVERY)).allow(conv.id):
        return
    with contextlib.suppress(TemporaryError, PermanentError):
        await send_typing(channel.credentials, channel.settings, recipient)


def visitor_typing(ctx: AppContext, conversation_id: int) -> None:
    ctx.bus.publish([{"type": VISITOR_TYPING, "conversation_id": conversation_id}])
