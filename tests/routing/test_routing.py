"""Lead routing (issue 5): limits under concurrency, the queue, strategies, owners, timers."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from app.routing import tasks
from tests.conftest import Running, create_operator
from tests.helpers import auth, visitor_post, visitor_session


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # No background timers or dispatchers: each test drives the timers itself.
    return {"run_workers": False}


async def operator_id(run: Running, token: str) -> int:
    r = await run.client.get("/api/v1/operators/me", headers=auth(token))
    return int(r.json()["id"])


async def make_operators(
    run: Running, admin: str, n: int, limit: int = 10, online: bool = True
) -> list[int]:
    ids = []
    for i in range(n):
        token = await create_operator(run, f"op{i}@example.com", "operator")
        op = await operator_id(run, token)
        r = await run.client.patch(
            f"/api/v1/operators/{op}", json={"max_open_conversations": limit}, headers=auth(admin)
        )
        assert r.status_code == 200, r.text
        if online:
            await set_presence(run, admin, op, "online")
        ids.append(op)
    return ids


async def set_presence(run: Running, admin: str, op: int, presence: str) -> None:
    r = await run.client.post(
        f"/api/v1/operators/{op}/presence", json={"presence": presence}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text


async def team_channel(
    run: Running, admin: str, members: list[int], name: str = "Sales", **routing: Any
) -> str:
    r = await run.client.post(
        "/api/v1/teams", json={"name": name, "member_ids": members}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    team_id = r.json()["id"]
    if routing:
        r = await run.client.patch(f"/api/v1/teams/{team_id}", json=routing, headers=auth(admin))
        assert r.status_code == 200, r.text
    r = await run.client.post(
        "/api/v1/channels",
        json={"type": "webchat", "name": "Site", "team_id": team_id},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["public_key"])


async def new_lead(run: Running, key: str, text_: str = "hi", **session: Any) -> int:
    token = (await visitor_session(run.client, key, **session))["visitor_token"]
    r = await visitor_post(run.client, key, token, text_)
    assert r.status_code == 201, r.text
    return int(r.json()["message"]["conversation_id"])


async def assignees(run: Running) -> dict[int, int | None]:
    async with run.ctx.sessions() as s:
        rows = (await s.execute(text("SELECT id, assignee_id FROM conversations"))).all()
    return {r.id: r.assignee_id for r in rows}


async def queue_ids(run: Running, admin: str) -> list[int]:
    r = await run.client.get("/api/v1/routing/queue", headers=auth(admin))
    assert r.status_code == 200, r.text
    items = r.json()
    assert [i["position"] for i in items] == list(range(1, len(items) + 1))
    return [i["conversation_id"] for i in items]


def counts(by_conv: dict[int, int | None]) -> dict[int, int]:
    out: dict[int, int] = {}
    for op in by_conv.values():
        if op is not None:
            out[op] = out.get(op, 0) + 1
    return out


async def test_200_concurrent_leads_5_operators_limit_10(run: Running) -> None:
    admin = await run.admin_token()
    ops = await make_operators(run, admin, 5, limit=10)
    key = await team_channel(run, admin, ops)
    sessions = [(await visitor_session(run.client, key))["visitor_token"] for _ in range(200)]
    results = await asyncio.gather(
        *(visitor_post(run.client, key, t, f"lead {i}") for i, t in enumerate(sessions))
    )
    assert all(r.status_code == 201 for r in results)

    by_conv = await assignees(run)
    assert len(by_conv) == 200
    per_op = counts(by_conv)
    assert sum(per_op.values()) == 50
    assert per_op == {op: 10 for op in ops}
    queued = await queue_ids(run, admin)
    assert len(queued) == 150
    async with run.ctx.sessions() as s:
        rows = (
            await s.execute(
                text("SELECT id, queued_at FROM conversations WHERE assignee_id IS NULL")
            )
        ).all()
    queued_at = {r.id: r.queued_at for r in rows}
    assert [queued_at[c] for c in queued] == sorted(queued_at[c] for c in queued)

    # Resolving 7 hands out exactly the next 7 in queue order.
    to_resolve = [c for c, op in by_conv.items() if op is not None][:7]
    for conv in to_resolve:
        r = await run.client.post(
            f"/api/v1/conversations/{conv}/status", json={"status": "resolved"}, headers=auth(admin)
        )
        assert r.status_code == 200, r.text
    after = await assignees(run)
    newly = {c for c in queued if after[c] is not None}
    assert newly == set(queued[:7])
    assert await queue_ids(run, admin) == queued[7:]
    async with run.ctx.sessions() as s:
        open_per_op = dict(
            (
                await s.execute(
                    text(
                        "SELECT assignee_id, count(*) FROM conversations "
                        "WHERE status <> 'resolved' AND assignee_id IS NOT NULL GROUP BY 1"
                    )
                )
            ).all()
        )
    assert open_per_op == {op: 10 for op in ops}


async def test_limits_hold_across_two_nodes(run: Running, settings: Any) -> None:
    """Two app instances (separate engines and pools, like two nodes) route at once."""
    from tests.conftest import running_app

    admin = await run.admin_token()
    ops = await make_operators(run, admin, 3, limit=5)
    key = await team_channel(run, admin, ops)
    tokens = [(await visitor_session(run.client, key))["visitor_token"] for _ in range(60)]
    async with running_app(settings, truncate=False) as other:
        clients = [run.client, other.client]
        results = await asyncio.gather(
            *(visitor_post(clients[i % 2], key, t, "hello") for i, t in enumerate(tokens))
        )
        assert all(r.status_code == 201 for r in results)
        assert counts(await assignees(run)) == {op: 5 for op in ops}
        assert len(await queue_ids(run, admin)) == 45


async def test_round_robin_distributes_exactly(run: Running) -> None:
    admin = await run.admin_token()
    ops = await make_operators(run, admin, 3, limit=100)
    key = await team_channel(run, admin, ops, strategy="round_robin")
    order = []
    for _ in range(12):
        conv = await new_lead(run, key)
        order.append((await assignees(run))[conv])
    assert order == ops * 4


async def test_balanced_gives_to_the_least_loaded(run: Running) -> None:
    admin = await run.admin_token()
    a, b, c = await make_operators(run, admin, 3, limit=100)
    key = await team_channel(run, admin, [a, b, c], strategy="balanced")
    convs = [await new_lead(run, key) for _ in range(6)]
    by_conv = await assignees(run)
    assert counts(by_conv) == {a: 2, b: 2, c: 2}
    # a resolves both of theirs: the next two go to a (fewest open), then ties rotate.
    for conv in [x for x in convs if by_conv[x] == a]:
        await run.client.post(
            f"/api/v1/conversations/{conv}/status", json={"status": "resolved"}, headers=auth(admin)
        )
    nxt = [await new_lead(run, key) for _ in range(5)]
    after = await assignees(run)
    assert [after[x] for x in nxt[:2]] == [a, a]
    # Now 2/2/2 again: ties go to who waited longest since their last assignment (b, c, a).
    assert [after[x] for x in nxt[2:]] == [b, c, a]


async def test_manual_strategy_queues_and_operators_take(run: Running) -> None:
    admin = await run.admin_token()
    ops = await make_operators(run, admin, 2, limit=1)
    key = await team_channel(run, admin, ops, strategy="manual")
    c1 = await new_lead(run, key)
    c2 = await new_lead(run, key)
    assert await queue_ids(run, admin) == [c1, c2]
    r = await run.client.post(
        f"/api/v1/conversations/{c1}/assign", json={"assignee_id": ops[0]}, headers=auth(admin)
    )
    assert r.status_code == 200 and r.json()["assignee_id"] == ops[0]
    # Over the limit: refused, nothing changes.
    r = await run.client.post(
        f"/api/v1/conversations/{c2}/assign", json={"assignee_id": ops[0]}, headers=auth(admin)
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "operator_at_capacity"
    assert (await assignees(run))[c2] is None


async def test_returning_client_goes_to_owner_else_team(run: Running) -> None:
    admin = await run.admin_token()
    a, b = await make_operators(run, admin, 2, limit=2)
    key = await team_channel(run, admin, [a, b], strategy="round_robin")
    client = {"identifier": "user-42", "identifier_hash": None}
    secret_channel = await run.client.get("/api/v1/channels", headers=auth(admin))
    channel = secret_channel.json()[0]
    # The identity secret is only shown at creation; set a known one instead.
    await run.client.patch(
        f"/api/v1/channels/{channel['id']}",
        json={"credentials": {"identity_secret": "s3cret"}},
        headers=auth(admin),
    )
    from connectors.webchat.connector import identity_hash

    client["identifier_hash"] = identity_hash("s3cret", "user-42")

    first = await new_lead(run, key, **client)
    owner = (await assignees(run))[first]
    other = b if owner == a else a
    r = await run.client.get("/api/v1/contacts", headers=auth(admin))
    contact = r.json()["items"][0]
    assert contact["owner_id"] == owner  # a new lead becomes the manager's

    async def come_back() -> int:
        await run.client.post(
            f"/api/v1/conversations/{first_conv[0]}/status",
            json={"status": "resolved"},
            headers=auth(admin),
        )
        conv = await new_lead(run, key, **client)
        first_conv[0] = conv
        return conv

    first_conv = [first]
    # Another lead arrives so round robin would pick `other` next; the owner still wins.
    await new_lead(run, key)
    conv = await come_back()
    assert (await assignees(run))[conv] == owner

    # Owner offline: the team takes it; ownership stays.
    await set_presence(run, admin, owner, "offline")
    conv = await come_back()
    assert (await assignees(run))[conv] == other
    r = await run.client.get(f"/api/v1/contacts/{contact['id']}", headers=auth(admin))
    assert r.json()["owner_id"] == owner

    # Owner back online but full: the team takes it.
    await set_presence(run, admin, owner, "online")
    await run.client.patch(
        f"/api/v1/operators/{owner}", json={"max_open_conversations": 0}, headers=auth(admin)
    )
    conv = await come_back()
    assert (await assignees(run))[conv] == other


async def test_full_base_receives_no_new_leads(run: Running) -> None:
    admin = await run.admin_token()
    a, b = await make_operators(run, admin, 2, limit=100)
    await run.client.patch(f"/api/v1/operators/{a}", json={"max_base_size": 1}, headers=auth(admin))
    key = await team_channel(run, admin, [a, b], strategy="round_robin")
    convs = [await new_lead(run, key) for _ in range(5)]
    by_conv = await assignees(run)
    assert [by_conv[c] for c in convs].count(a) == 1
    r = await run.client.get("/api/v1/routing/load", headers=auth(admin))
    load = {row["operator_id"]: row for row in r.json()}
    assert load[a]["base_size"] == 1 and load[b]["base_size"] == 4


async def test_lost_clients_leave_the_live_base(run: Running) -> None:
    """DOMAIN.md's live base is owned and not lost: a full base whose client is marked lost
    takes a lead again, and routing's load and base health count the same clients."""
    admin = await run.admin_token()
    a, b = await make_operators(run, admin, 2, limit=100)
    await run.client.patch(f"/api/v1/operators/{a}", json={"max_base_size": 2}, headers=auth(admin))
    key = await team_channel(run, admin, [a, b], strategy="round_robin")
    convs = [await new_lead(run, key) for _ in range(4)]
    by_conv = await assignees(run)
    assert [by_conv[c] for c in convs].count(a) == 2  # a's base is full at 2
    async with run.ctx.sessions() as s:
        lost = (
            await s.execute(
                text("SELECT id FROM contacts WHERE owner_id = :a ORDER BY id LIMIT 1"), {"a": a}
            )
        ).scalar_one()
    r = await run.client.patch(
        f"/api/v1/contacts/{lost}", json={"stage": "lost"}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text

    async def sizes() -> tuple[dict[int, int], dict[int, int]]:
        load = (await run.client.get("/api/v1/routing/load", headers=auth(admin))).json()
        health = await run.client.get("/api/v1/analytics/base-health", headers=auth(admin))
        assert health.status_code == 200, health.text
        return (
            {row["operator_id"]: row["base_size"] for row in load},
            {m["operator_id"]: m["live_base"] for m in health.json()["managers"]},
        )

    routing_sizes, health_sizes = await sizes()
    assert routing_sizes[a] == health_sizes[a] == 1  # 2 owned, 1 of them lost
    assert routing_sizes[b] == health_sizes[b] == 2
    # Round robin's turn is a's again (b took the last lead) and a has room once more.
    conv = await new_lead(run, key)
    assert (await assignees(run))[conv] == a
    routing_sizes, health_sizes = await sizes()
    assert routing_sizes[a] == health_sizes[a] == 2
    # The lost client stays a's (owned, out of the live base).
    r = await run.client.get(f"/api/v1/contacts/{lost}", headers=auth(admin))
    assert r.json()["owner_id"] == a


async def test_response_target_reassigns_unanswered(run: Running) -> None:
    admin = await run.admin_token()
    a, b = await make_operators(run, admin, 2, limit=10)
    key = await team_channel(
        run,
        admin,
        [a, b],
        strategy="round_robin",
        response_target_seconds=60,
        max_reassignments=1,
    )
    answered = await new_lead(run, key)
    unanswered = await new_lead(run, key)
    first = await assignees(run)
    assert {first[answered], first[unanswered]} == {a, b}
    operator_of = {a: await token_for(run, a), b: await token_for(run, b)}
    r = await run.client.post(
        f"/api/v1/conversations/{answered}/messages",
        json={"text": "On it!"},
        headers=auth(operator_of[first[answered]]),
    )
    assert r.status_code == 201, r.text
    # Time passes: move every deadline into the past.
    async with run.ctx.sessions() as s:
        await s.execute(
            text(
                "UPDATE conversations SET response_due_at = now() - interval '1 second' "
                "WHERE response_due_at IS NOT NULL"
            )
        )
        await s.commit()
    assert await tasks.run_missed_responses(run.ctx.sessions) == 1
    after = await assignees(run)
    assert after[answered] == first[answered]
    assert after[unanswered] == first[answered]  # the other operator
    async with run.ctx.sessions() as s:
        row = (
            await s.execute(
                text("SELECT slow_response, reassign_count FROM conversations WHERE id = :i"),
                {"i": unanswered},
            )
        ).one()
        missed = await s.scalar(
            text(
                "SELECT count(*) FROM touchpoints WHERE conversation_id = :i"
                " AND kind = 'assignment' AND reaction = 'negative'"
            ),
            {"i": unanswered},
        )
    assert row.slow_response and row.reassign_count == 1 and missed == 1


async def token_for(run: Running, op: int) -> str:
    admin = await run.client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "ochre-82-jy"}
    )
    ops = await run.client.get("/api/v1/operators", headers=auth(admin.json()["access_token"]))
    email = next(o["email"] for o in ops.json() if o["id"] == op)
    r = await run.client.post(
        "/api/v1/auth/login", json={"email": email, "password": "ochre-82-jy"}
    )
    return str(r.json()["access_token"])
