"""The console's list API: tab counts scoped by visibility, the waiting-time sort, saved
views (personal, validated), snooze and its wake-up, and a reply resent with the same
client id stored once."""

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from app.routing import tasks
from tests.conftest import Running
from tests.helpers import auth, visitor_post, visitor_session
from tests.operators.test_authorization import make_world

VIEWS = "/api/v1/saved-views"


async def test_counts_follow_what_the_caller_sees(run: Running) -> None:
    w = await make_world(run)
    c = run.client
    mine = (await c.get("/api/v1/conversations/counts", headers=auth(w.operator))).json()
    assert mine["queue"] == 1 and mine["mine"] == 0 and mine["all"] == 1
    # Team Support's operator does not see Sales' conversation, so it is not counted.
    outsider = (await c.get("/api/v1/conversations/counts", headers=auth(w.outsider))).json()
    assert outsider == {
        "mine": 0,
        "queue": 0,
        "all": 0,
        "resolved": 0,
        "snoozed": 0,
        "mine_unread": 0,
        "bot": 0,
    }
    r = await c.post(
        f"/api/v1/conversations/{w.conversation_id}/assign",
        json={"assignee_id": w.operator_id},
        headers=auth(w.operator),
    )
    assert r.status_code == 200, r.text
    mine = (await c.get("/api/v1/conversations/counts", headers=auth(w.operator))).json()
    assert (mine["mine"], mine["queue"], mine["mine_unread"]) == (1, 0, 1)
    other = await c.get(
        f"/api/v1/conversations/counts?channel={w.channel_b_id}", headers=auth(w.operator)
    )
    assert other.json()["all"] == 0


async def test_waiting_sort_puts_the_longest_wait_first(run: Running) -> None:
    w = await make_world(run)
    c = run.client
    widget_b = w.widget_b
    second = (await visitor_session(c, widget_b, name="Second"))["visitor_token"]
    assert (await visitor_post(c, widget_b, second, "later")).status_code in (200, 201)
    async with run.ctx.sessions() as s:
        await s.execute(
            text(
                "UPDATE conversations SET last_inbound_at = now() - interval '1 hour' "
                "WHERE id = :id"
            ),
            {"id": w.conversation_id},
        )
        await s.commit()
    by_wait = await c.get("/api/v1/conversations?sort=waiting&limit=1", headers=auth(w.admin))
    page = by_wait.json()
    assert page["items"][0]["id"] == w.conversation_id and page["next_cursor"]
    rest = await c.get(
        f"/api/v1/conversations?sort=waiting&limit=1&cursor={page['next_cursor']}",
        headers=auth(w.admin),
    )
    assert rest.json()["items"][0]["id"] != w.conversation_id
    by_activity = await c.get("/api/v1/conversations?limit=1", headers=auth(w.admin))
    assert by_activity.json()["items"][0]["id"] != w.conversation_id
    bad = await c.get("/api/v1/conversations?sort=name", headers=auth(w.admin))
    assert bad.status_code == 422


async def test_saved_views_are_personal_and_validated(run: Running) -> None:
    w = await make_world(run)
    c = run.client
    body = {
        "name": "My late chats",
        "filters": {"assignee": "me", "sort": "waiting", "channel": w.channel_a_id},
    }
    r = await c.post(VIEWS, json=body, headers=auth(w.operator))
    assert r.status_code == 201, r.text
    view = r.json()
    assert view["filters"]["sort"] == "waiting" and view["filters"]["assignee"] == "me"
    taken = await c.post(VIEWS, json={**body, "name": "my LATE chats"}, headers=auth(w.operator))
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "view_name_taken"
    # The same name is another operator's own.
    assert (await c.post(VIEWS, json=body, headers=auth(w.other_operator))).status_code == 201

    for bad, code in (
        ({"name": "x", "filters": {"channel": 987654}}, "unknown_channel"),
        ({"name": "x", "filters": {"team": 987654}}, "unknown_team"),
        ({"name": "x", "filters": {"assignee": "987654"}}, "unknown_operator"),
        ({"name": "x", "filters": {"label": "nope"}}, "unknown_label"),
    ):
        r = await c.post(VIEWS, json=bad, headers=auth(w.operator))
        assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
    for bad_body in (
        {"name": " ", "filters": {}},
        {"name": "x", "filters": {"assignee": "someone"}},
        {"name": "x", "filters": {"sort": "name"}},
        {"name": "x", "filters": {"colour": "red"}},
        {"name": "x" * 61, "filters": {}},
    ):
        r = await c.post(VIEWS, json=bad_body, headers=auth(w.operator))
        assert r.status_code == 422, bad_body
    listed = (await c.get(VIEWS, headers=auth(w.operator))).json()
    assert [v["name"] for v in listed] == ["My late chats"]

    # Another operator can neither change nor delete it: it does not exist for them.
    url = f"{VIEWS}/{view['id']}"
    assert (
        await c.patch(url, json={"name": "x"}, headers=auth(w.other_operator))
    ).status_code == 404
    assert (await c.delete(url, headers=auth(w.other_operator))).status_code == 404
    r = await c.patch(
        url, json={"name": "Late", "filters": {"status": "open"}}, headers=auth(w.operator)
    )
    assert r.status_code == 200, r.text
    assert {k: v for k, v in r.json()["filters"].items() if v} == {
        "status": "open",
        "sort": "activity",
    }
    assert (await c.delete(url, headers=auth(w.operator))).status_code == 204
    assert (await c.get(VIEWS, headers=auth(w.operator))).json() == []
    # An API key is no operator: no personal views.
    key = await w.key_with(None)
    r = await c.get(VIEWS, headers={"X-API-Key": key})
    assert r.status_code == 403


async def test_a_snoozed_conversation_wakes_up_when_due(run: Running) -> None:
    w = await make_world(run)
    c = run.client
    url = f"/api/v1/conversations/{w.conversation_id}/status"
    soon = datetime.now(UTC) + timedelta(hours=1)
    r = await c.post(
        url, json={"status": "snoozed", "snoozed_until": soon.isoformat()}, headers=auth(w.operator)
    )
    assert r.status_code == 200 and r.json()["status"] == "snoozed"
    counts = (await c.get("/api/v1/conversations/counts", headers=auth(w.operator))).json()
    assert counts["snoozed"] == 1
    async with run.ctx.sessions() as s:
        assert await tasks.run_snooze_wakeups(s) == 0  # not yet
        await s.execute(
            text(
                "UPDATE conversations SET snoozed_until = now() - interval '1 second' "
                "WHERE id = :id"
            ),
            {"id": w.conversation_id},
        )
        await s.commit()

    # Two nodes' timers at once: the conversation wakes once.
    async def wake() -> int:
        async with run.ctx.sessions() as s:
            n = await tasks.run_snooze_wakeups(s)
            await s.commit()
            return n

    assert sorted(await asyncio.gather(wake(), wake())) == [0, 1]
    conv = (
        await c.get(f"/api/v1/conversations/{w.conversation_id}", headers=auth(w.operator))
    ).json()
    assert conv["status"] == "open" and conv["snoozed_until"] is None
    async with run.ctx.sessions() as s:
        events = await s.execute(
            text(
                "SELECT payload FROM domain_events WHERE name = 'conversation.status_changed' "
                "AND payload->>'previous' = 'snoozed'"
            )
        )
        assert len(events.all()) == 1
    # Unsnoozing by hand is a status change to open.
    r = await c.post(
        url, json={"status": "snoozed", "snoozed_until": soon.isoformat()}, headers=auth(w.operator)
    )
    r = await c.post(url, json={"status": "open"}, headers=auth(w.operator))
    assert r.json()["status"] == "open" and r.json()["snoozed_until"] is None


async def test_the_same_client_id_twice_stores_one_reply(run: Running) -> None:
    w = await make_world(run)
    c = run.client
    url = f"/api/v1/conversations/{w.conversation_id}/messages"
    body = {"text": "Sent from the outbox", "client_message_id": "c-outbox-1"}
    first, again = await asyncio.gather(
        c.post(url, json=body, headers=auth(w.operator)),
        c.post(url, json=body, headers=auth(w.operator)),
    )
    assert sorted((first.status_code, again.status_code)) == [200, 201], (first.text, again.text)
    assert first.json()["id"] == again.json()["id"]
    later = await c.post(url, json=body, headers=auth(w.operator))
    assert later.status_code == 200 and later.json()["id"] == first.json()["id"]
    async with run.ctx.sessions() as s:
        n = await s.scalar(
            text(
                "SELECT count(*) FROM messages WHERE conversation_id = :id "
                "AND text = 'Sent from the outbox'"
            ),
            {"id": w.conversation_id},
        )
    assert n == 1


async def test_the_timeline_shows_the_messages_text(run: Running) -> None:
    w = await make_world(run)
    r = await run.client.get(
        f"/api/v1/touchpoints?contact_id={w.contact_id}", headers=auth(w.operator)
    )
    assert r.status_code == 200, r.text
    touch = next(t for t in r.json()["items"] if t["message_id"] == w.message_id)
    async with run.ctx.sessions() as s:
        wanted = await s.scalar(
            text("SELECT left(text, 140) FROM messages WHERE id = :id"), {"id": w.message_id}
        )
    assert wanted and touch["preview"] == wanted
