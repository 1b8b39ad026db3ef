"""Many operators going offline at the same moment (a node restarting drops every console
at once) while new leads arrive: each one's conversations go back to routing, none is left
with an operator who is offline, and no release is lost. The fan-out bench found this: with
1,000 consoles closing together, routings deadlocked now and then and PostgreSQL aborted
one; releases now run again (presence.after_change) and a lead caught in one gets 503
conflict_retry, which the widget resends. Whether a deadlock happens in a given run is up to
timing; tests/db/test_lock_conflicts.py forces one."""

import asyncio

from sqlalchemy import select

from app.operators.models import Operator, Presence
from app.routing import presence
from tests.conftest import Running, create_operator
from tests.helpers import auth, visitor_post, visitor_session
from tests.routing.test_routing import assignees, operator_id, team_channel


async def _operators(run: Running, admin: str, prefix: str, n: int) -> list[int]:
    ids = []
    for i in range(n):
        op = await operator_id(
            run, await create_operator(run, f"{prefix}{i}@example.com", "operator")
        )
        r = await run.client.patch(
            f"/api/v1/operators/{op}", json={"max_open_conversations": 100}, headers=auth(admin)
        )
        assert r.status_code == 200, r.text
        ids.append(op)
    return ids


async def lead_as_the_widget_sends_it(run: Running, key: str, text: str) -> None:
    """A new visitor's message, resent after a 503 as widget.js does (same client id)."""
    token = (await visitor_session(run.client, key))["visitor_token"]
    for _ in range(5):
        r = await visitor_post(run.client, key, token, text, "c1")
        if r.status_code != 503:
            break
        assert r.json()["error"]["code"] == "conflict_retry", r.text
        await asyncio.sleep(float(r.headers["Retry-After"]) / 10)
    assert r.status_code == 201, r.text


async def test_mass_offline_releases_every_conversation(run: Running) -> None:
    admin = await create_operator(run, "admin@example.com", "admin")
    staying = await _operators(run, admin, "stay", 6)
    leaving = await _operators(run, admin, "leave", 30)
    key = await team_channel(run, admin, staying + leaving, release_on_offline=True)
    for op in staying + leaving:  # consoles open: each comes online
        await presence.console_opened(run.ctx.sessions, op)
    for i in range(90):
        await lead_as_the_widget_sends_it(run, key, f"lead {i}")
    before = await assignees(run)
    assert any(op in leaving for op in before.values()), before

    # Every leaving console closes at once, while new leads keep coming.
    results = await asyncio.gather(
        *(presence.console_closed(run.ctx.sessions, op) for op in leaving),
        *(lead_as_the_widget_sends_it(run, key, f"late lead {i}") for i in range(30)),
        return_exceptions=True,
    )
    assert [r for r in results if isinstance(r, BaseException)] == []
    after = await assignees(run)
    assert {c: op for c, op in after.items() if op in leaving} == {}
    assert set(after.values()) <= set(staying)
    async with run.ctx.sessions() as session:
        states = set(
            (await session.scalars(select(Operator.presence).where(Operator.id.in_(leaving)))).all()
        )
    assert states == {Presence.offline}
