"""Useful messages on cadence (DOMAIN.md: category C gets an automated useful message every
3 weeks, D every month): a category with `message_cadence_days` sends its template (per
language, admins', /api/v1/cadence-messages) to the clients of a live base, on channels
where the feature is switched on (channel setting `cadence_messages`, default off). The
message goes the way a chain step's does (chains.notify.choose_target: the channel the client
uses; outside a reply window only as the channel's approved template for step
`cadence_<category>`) and through the outbox like any outgoing message, so it is a touchpoint
(kind notification, chain "cadence", step the category). Opted-out clients get nothing; a
client who answers with an opt-out word is opted out (record_opt_out).

Exactly once per client and due period with any number of processes: the due day follows
from the client's last cadence_sends row (or the day they appeared), so every process
computes the same key, and only the one whose insert of (contact, due_on) wins sends; another
that runs the same round waits on that row until it commits and then finds it taken."""

import logging
import string
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.chains import notify
from app.channels.models import ChannelAccount
from app.contacts.models import Category, Contact, ContactIdentity
from app.contacts.sql import in_live_base
from app.core.errors import Invalid
from app.core.timezones import local_bucket
from app.sales.models import CadenceSend, CadenceTemplate

log = logging.getLogger(__name__)

CHAIN = "cadence"
SWITCH = "cadence_messages"  # the channel setting that turns the feature on (default off)
VARIABLES = ("first_name", "name")
FALLBACK_LANGUAGE = "en"


def enabled_on(channel: ChannelAccount) -> bool:
    return channel.settings.get(SWITCH) is True


def step_of(category: str) -> str:
    """The step a channel's approved template is mapped to (settings.chain_templates)."""
    return f"{CHAIN}_{category}"


def check_text(body: str) -> str:
    """A template may only use the known variables (a typo would send a literal brace)."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(body) if f is not None}
    except ValueError as exc:
        raise Invalid(f"The template is not valid: {exc}", "invalid_template") from exc
    if unknown := sorted(fields - set(VARIABLES)):
        raise Invalid(
            f"Unknown variables {unknown}; known: {', '.join(VARIABLES)}", "invalid_template"
        )
    return body


def variables_of(name: str | None) -> dict[str, str]:
    name = (name or "").strip()
    return {"name": name, "first_name": name.split()[0] if name else ""}


@dataclass(frozen=True, slots=True)
class Due:
    contact_id: int
    name: str | None
    category: str
    language: str | None
    due_on: date


def _has_template() -> object:
    return (
        select(CadenceTemplate.id)
        .where(CadenceTemplate.category == Contact.category, CadenceTemplate.enabled)
        .correlate(Contact)
        .exists()
    )


def _on_a_switched_on_channel() -> object:
    return (
        select(ContactIdentity.id)
        .join(ChannelAccount, ChannelAccount.id == ContactIdentity.channel_account_id)
        .where(
            ContactIdentity.contact_id == Contact.id,
            ContactIdentity.reachable.is_(True),
            ChannelAccount.is_active.is_(True),
            ChannelAccount.deleted_at.is_(None),
            ChannelAccount.settings.contains({SWITCH: True}),
        )
        .correlate(Contact)
        .exists()
    )


async def due_clients(session: AsyncSession, today: date, zone: str, limit: int) -> list[Due]:
    """Clients due their category's message on `today` (a local day in `zone`) or earlier:
    the local day of their last one (or of their appearing) plus the category's period."""
    last = (
        select(func.max(CadenceSend.sent_at))
        .where(CadenceSend.contact_id == Contact.id)
        .correlate(Contact)
        .scalar_subquery()
    )
    since = local_bucket(func.coalesce(last, Contact.created_at), zone)
    due_on = cast(since + Category.message_cadence_days, Date).label("due_on")
    rows = (
        await session.execute(
            select(
                Contact.id,
                Contact.name,
                Contact.category,
                Contact.attributes["language"].astext.label("language"),
                due_on,
            )
            .join(Category, Category.code == Contact.category)
            .where(
                Category.message_cadence_days.is_not(None),
                in_live_base(),
                Contact.automated_opt_out_at.is_(None),
                _has_template(),  # type: ignore[arg-type]
                _on_a_switched_on_channel(),  # type: ignore[arg-type]
                due_on <= today,
            )
            .order_by(due_on, Contact.id)
            .limit(limit)
        )
    ).all()
    return [Due(r.id, r.name, r.category, r.language, r.due_on) for r in rows]


async def _template(session: AsyncSession, category: str, language: str | None) -> CadenceTemplate:
    rows = (
        await session.scalars(
            select(CadenceTemplate)
            .where(CadenceTemplate.category == category, CadenceTemplate.enabled)
            .order_by(CadenceTemplate.language)
        )
    ).all()
    for wanted in (language, FALLBACK_LANGUAGE):
        if found := next((t for t in rows if t.language == wanted), None):
            return found
    return rows[0]  # due_clients only lists categories with an enabled template


async def send_one(session: AsyncSession, due: Due, now: datetime) -> bool:
    """Claim the client's period and queue its message. False: another process had the
    claim (or nothing could go out: the claim records why, and the period is over)."""
    claim = CadenceSend(
        contact_id=due.contact_id, due_on=due.due_on, category=due.category, sent_at=now
    )
    won = await session.scalar(
        insert(CadenceSend)
        .values(
            contact_id=claim.contact_id,
            due_on=claim.due_on,
            category=claim.category,
            sent_at=claim.sent_at,
        )
        .on_conflict_do_nothing()
        .returning(CadenceSend.contact_id)
    )
    if won is None:
        return False

    async def skip(why: str) -> bool:
        await session.execute(
            update(CadenceSend)
            .where(CadenceSend.contact_id == due.contact_id, CadenceSend.due_on == due.due_on)
            .values(skipped=why)
        )
        log.info("cadence message to contact %s skipped: %s", due.contact_id, why)
        return False

    # A "stop" may have come in since the list was read: the row lock orders us after it.
    opted_out = await session.scalar(
        select(Contact.automated_opt_out_at)
        .where(Contact.id == due.contact_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if opted_out is not None:
        return await skip("opted_out")
    template = await _template(session, due.category, due.language)
    variables = variables_of(due.name)
    target, why = await notify.choose_target(
        session,
        due.contact_id,
        step_of(due.category),
        template.language,
        variables,
        channel_ok=enabled_on,
    )
    if target is None:
        return await skip(why)
    body = template.text.format_map({k: variables.get(k, "") for k in VARIABLES})
    msg, _ = await notify.queue_to_target(
        session,
        target,
        due.contact_id,
        body,
        {"chain": CHAIN, "step": due.category},
        external_id=f"{CHAIN}/{due.contact_id}/{due.due_on.isoformat()}",
        chain=CHAIN,
        step=due.category,
    )
    await session.execute(
        update(CadenceSend)
        .where(CadenceSend.contact_id == due.contact_id, CadenceSend.due_on == due.due_on)
        .values(message_id=msg.id)
    )
    return True


async def send_due(
    sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    now: datetime,
    zone: str,
    limit: int = 200,
) -> int:
    """One round: every due client, each in a transaction of its own. Returns how many
    messages this process queued."""
    today = now.astimezone(ZoneInfo(zone)).date()
    async with sessions() as session:
        due = await due_clients(session, today, zone, limit)
    sent = 0
    for one in due:
        async with sessions() as session:
            sent += await send_one(session, one, now)
            await session.commit()
    return sent


# ---------------------------------------------------------------- opting out

# The message is one of the words (chatcentre_opt_out_word, app/sales/sql/opt_out_word.sql); a
# contact already opted out is left as it is.
_OPT_OUT = text("""
UPDATE contacts c SET automated_opt_out_at = :now
FROM messages m
WHERE m.id = :message_id AND c.id = m.contact_id AND c.automated_opt_out_at IS NULL
  AND chatcentre_opt_out_word(m.text)
RETURNING c.id
""")


async def record_opt_out(session: AsyncSession, message_id: int, now: datetime) -> int | None:
    """The client's inbound message, if it is an opt-out word: the contact is opted out of
    automated messages (in the audit log, the client as the actor). Returns the contact."""
    contact_id: int | None = await session.scalar(_OPT_OUT, {"now": now, "message_id": message_id})
    if contact_id is not None:
        await audit.record(
            session,
            actor_kind="contact",
            actor_id=contact_id,
            action="contact.automated_opt_out",
            target_type="contact",
            target_id=contact_id,
            details={"opted_out": True, "message_id": message_id},
        )
    return contact_id
