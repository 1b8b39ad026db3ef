"""Useful messages on cadence (DOMAIN.md: C an automated useful message every 3 weeks, D
every month): who is due on a back-dated history (worked out by hand below), the template
per category and language, WhatsApp's approved template outside its window, the outbox and
the touchpoint, exactly once per client and period with two worker processes at once, and
opting out by replying "stop" (recorded, audited, reversible on the contact card)."""

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from app.channels.models import ChannelAccount
from app.contacts.models import Contact, ContactIdentity
from tests.conftest import Running
from tests.helpers import auth, statements_sent, visitor_post, visitor_session
from tests.sales.scenario import Sales

NOW = datetime(2026, 3, 30, 9, 0, tzinfo=UTC)  # a Monday


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def add_templates(run: Running, admin: str) -> None:
    for category, language, body in (
        ("C", "ru", "Здравствуйте, {first_name}! Совет недели."),
        ("C", "en", "Hello {first_name}, this week's tip."),
        ("D", "en", "News for {name}."),
    ):
        r = await run.client.post(
            "/api/v1/cadence-messages",
            json={"category": category, "language": language, "text": body},
            headers=auth(admin),
        )
        assert r.status_code == 201, r.text


async def channel(run: Running, type_: str, on: bool, **settings: Any) -> int:
    async with run.ctx.sessions() as session:
        row = ChannelAccount(
            type=type_,
            name=f"{type_}-{on}",
            public_key=f"key-{type_}-{on}",
            settings={"cadence_messages": on, **settings} if on else settings,
        )
        session.add(row)
        await session.commit()
        return row.id


class Clients(Sales):
    async def client_on(
        self,
        channel_id: int,
        created: datetime,
        category: str,
        wrote: datetime | None = None,
        language: str | None = None,
        **fields: Any,
    ) -> int:
        owner = fields.pop("owner")
        contact = await self.contact(owner, created=created, **fields)
        await self.session.execute(
            update(Contact)
            .where(Contact.id == contact)
            .values(category=category, attributes={"language": language} if language else {})
        )
        self.session.add(
            ContactIdentity(
                contact_id=contact,
                channel_account_id=channel_id,
                external_id=f"ext-{contact}",
                last_inbound_at=wrote,
            )
        )
        await self.session.flush()
        return contact


async def sent(run: Running) -> list[Any]:
    async with run.ctx.sessions() as s:
        return list(
            (
                await s.execute(
                    text(
                        "SELECT m.contact_id, m.channel_account_id, m.kind, m.text, m.meta,"
                        " m.external_id, (SELECT count(*) FROM outbox o WHERE o.message_id = m.id)"
                        " AS queued FROM messages m WHERE m.meta->>'chain' = 'cadence'"
                        " ORDER BY m.contact_id"
                    )
                )
            ).all()
        )


async def run_round(run: Running, tmp_path: Path, now: datetime) -> list[int]:
    """Two worker processes run the same round at once."""
    url = run.ctx.settings.database_url

    async def one() -> int:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.sales.cadence_round",
            str(url),
            now.isoformat(),
            str(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        return int(out.decode().split()[-1])

    return list(await asyncio.gather(one(), one()))


async def test_useful_messages_on_cadence(run: Running, tmp_path: Path) -> None:
    admin = await run.admin_token()
    await add_templates(run, admin)
    tg = await channel(run, "telegram", on=True)
    wa = await channel(
        run,
        "whatsapp",
        on=True,
        templates=[{"name": "useful_tip", "language": "en_US", "parameters": 1}],
        chain_templates={"cadence_D": {"name": "useful_tip", "parameters": ["first_name"]}},
    )
    off = await channel(run, "telegram", on=False)
    async with run.ctx.sessions() as session:
        h = Clients(session)
        anna = await h.operator("Anna")
        # C every 21 days, D every 30, from the local day the client appeared (UTC here).
        due_c = await h.client_on(tg, ago(25), "C", language="ru", name="Ivan Petrov", owner=anna)
        early_c = await h.client_on(tg, ago(20), "C", name="Early", owner=anna)  # due in 1 day
        due_d = await h.client_on(wa, ago(31), "D", wrote=ago(3), name="Olga K", owner=anna)
        opted = await h.client_on(tg, ago(25), "C", name="Opted", owner=anna)
        await session.execute(
            update(Contact).where(Contact.id == opted).values(automated_opt_out_at=ago(1))
        )
        await h.client_on(tg, ago(40), "A", name="A client", owner=anna)  # no automated cadence
        await h.client_on(tg, ago(25), "C", name="Lost", owner=anna, stage="lost")
        await h.client_on(tg, ago(25), "C", name="Nobody's", owner=None)  # in no live base
        await h.client_on(off, ago(25), "C", name="Switched off", owner=anna)
        await session.commit()

    # Two processes at once: each due client once, whichever process got there.
    counts = await run_round(run, tmp_path, NOW)
    assert sum(counts) == 2, counts
    rows = await sent(run)
    assert [(r.contact_id, r.channel_account_id, r.kind) for r in rows] == [
        (due_c, tg, "text"),
        (due_d, wa, "template"),  # the window closed 2 days ago: the approved template
    ]
    assert rows[0].text == "Здравствуйте, Ivan! Совет недели."  # the client's language
    assert rows[0].queued == 1 and rows[1].queued == 1  # through the outbox
    assert rows[1].meta["template"]["name"] == "useful_tip"
    assert rows[1].meta["template"]["parameters"] == ["Olga"]
    r = await run.client.get(
        "/api/v1/touchpoints", params={"contact_id": due_c}, headers=auth(admin)
    )
    [touch] = [t for t in r.json()["items"] if t["chain"] == "cadence"]
    assert (touch["kind"], touch["step"], touch["direction"]) == ("notification", "C", "outbound")

    # Again the same day, and again with two processes: nothing more.
    assert sum(await run_round(run, tmp_path, NOW + timedelta(hours=1))) == 0
    # A day later the early client is due (appeared 21 days before); the others are not.
    assert sum(await run_round(run, tmp_path, NOW + timedelta(days=1))) == 1
    assert [r.contact_id for r in await sent(run)] == [due_c, early_c, due_d]
    # 21 days after its first message the first client is due again; one message more.
    assert sum(await run_round(run, tmp_path, NOW + timedelta(days=20))) == 0
    assert sum(await run_round(run, tmp_path, NOW + timedelta(days=21))) == 1
    assert [r.contact_id for r in await sent(run)] == [due_c, due_c, early_c, due_d]
    async with run.ctx.sessions() as s:
        periods = (
            await s.execute(
                text("SELECT due_on FROM cadence_sends WHERE contact_id = :c ORDER BY due_on"),
                {"c": due_c},
            )
        ).scalars()
        assert [d.isoformat() for d in periods] == [
            "2026-03-26",
            "2026-04-20",
        ]  # day 25 ago + 21; then the send + 21


async def test_stop_opts_out_audited_and_reversible(run: Running, tmp_path: Path) -> None:
    admin = await run.admin_token()
    await add_templates(run, admin)
    r = await run.client.post(
        "/api/v1/channels",
        json={"type": "webchat", "name": "Site", "settings": {"cadence_messages": True}},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    key = r.json()["public_key"]
    token = (await visitor_session(run.client, key))["visitor_token"]
    assert (await visitor_post(run.client, key, token, "what's new?")).status_code == 201
    me = (await run.client.get("/api/v1/operators/me", headers=auth(admin))).json()["id"]
    async with run.ctx.sessions() as s:
        contact = (await s.execute(select(Contact.id))).scalar_one()
        # A C client in the admin's base, appeared long enough ago to be due.
        await s.execute(
            update(Contact)
            .where(Contact.id == contact)
            .values(category="C", owner_id=me, created_at=datetime.now(UTC) - timedelta(days=25))
        )
        await s.commit()
    card = f"/api/v1/contacts/{contact}"
    assert (await run.client.get(card, headers=auth(admin))).json()["automated_opt_out_at"] is None

    assert (await visitor_post(run.client, key, token, "  СТОП! ")).status_code == 201
    opted_at = (await run.client.get(card, headers=auth(admin))).json()["automated_opt_out_at"]
    assert opted_at is not None
    # Opted out: owned and due, yet nothing goes out.
    assert sum(await run_round(run, tmp_path, datetime.now(UTC) + timedelta(days=1))) == 0

    # The configured words: "unsubscribe" is not one of them until an admin adds it.
    r = await run.client.patch(
        "/api/v1/sales-settings",
        json={"opt_out_words": ["Stop", "стоп", "отписаться", "Unsubscribe"]},
        headers=auth(admin),
    )
    assert r.json()["opt_out_words"] == ["stop", "unsubscribe", "отписаться", "стоп"]

    # An operator opts the client back in (audited); then the message goes out.
    r = await run.client.patch(card, json={"automated_opt_out": False}, headers=auth(admin))
    assert r.status_code == 200 and r.json()["automated_opt_out_at"] is None
    assert sum(await run_round(run, tmp_path, datetime.now(UTC) + timedelta(days=1))) == 1
    log = await run.client.get(
        "/api/v1/audit-log", params={"action": "contact.automated_opt_out"}, headers=auth(admin)
    )
    entries = sorted(log.json()["items"], key=lambda e: e["id"])
    assert [(e["actor_kind"], e["details"]["opted_out"]) for e in entries] == [
        ("contact", True),
        ("operator", False),
    ]
    # "unsubscribe" now opts out, too.
    assert (await visitor_post(run.client, key, token, "unsubscribe.")).status_code == 201
    assert (await run.client.get(card, headers=auth(admin))).json()["automated_opt_out_at"]


async def test_templates_api(run: Running) -> None:
    admin, op = await run.admin_token(), await run.operator_token()
    url = "/api/v1/cadence-messages"
    body = {"category": "C", "language": "ru", "text": "Привет, {first_name}"}
    assert (await run.client.post(url, json=body, headers=auth(op))).status_code == 403
    r = await run.client.post(url, json=body, headers=auth(admin))
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    r = await run.client.post(url, json=body, headers=auth(admin))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "template_exists")
    bad = {**body, "language": "en", "text": "Hi {frist_name}"}
    r = await run.client.post(url, json=bad, headers=auth(admin))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_template")
    r = await run.client.post(url, json={**body, "category": "Z"}, headers=auth(admin))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "unknown_category")
    r = await run.client.patch(f"{url}/{tid}", json={"enabled": False}, headers=auth(admin))
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert [t["id"] for t in (await run.client.get(url, headers=auth(admin))).json()] == [tid]
    assert (await run.client.delete(f"{url}/{tid}", headers=auth(admin))).status_code == 204
    assert (await run.client.delete(f"{url}/{tid}", headers=auth(admin))).status_code == 404
    log = await run.client.get(
        "/api/v1/audit-log", params={"target_type": "cadence_template"}, headers=auth(admin)
    )
    assert sorted(e["action"] for e in log.json()["items"]) == [
        "cadence_template.create",
        "cadence_template.delete",
        "cadence_template.update",
    ]
    r = await run.client.get("/api/v1/categories", headers=auth(admin))
    assert {c["code"]: c["message_cadence_days"] for c in r.json()} == {
        "A": None,
        "B": None,
        "C": 21,
        "D": 30,
    }


async def test_a_plain_message_costs_no_opt_out_statement(run: Running) -> None:
    """The ingest's own statement says whether the text is an opt-out word; for the rest
    (nearly every message) the opt-out handler issues nothing."""
    admin = await run.admin_token()
    r = await run.client.post(
        "/api/v1/channels", json={"type": "webchat", "name": "Site"}, headers=auth(admin)
    )
    key = r.json()["public_key"]
    token = (await visitor_session(run.client, key))["visitor_token"]
    with statements_sent(run.ctx.engine) as statements:
        assert (await visitor_post(run.client, key, token, "hello")).status_code == 201
        assert (await visitor_post(run.client, key, token, "Stop!")).status_code == 201
    opt_outs = [s for s in statements if "UPDATE contacts" in s and "opt_out" in s]
    assert len(opt_outs) == 1  # for "Stop!" only
    async with run.ctx.sessions() as s:
        assert (await s.execute(select(Contact.automated_opt_out_at))).scalar_one() is not None
