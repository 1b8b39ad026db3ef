"""The business-hours and automatic-reply settings: validated, read back, audited; members
read, admins write."""

from sqlalchemy import text

from tests.conftest import Running, create_operator
from tests.helpers import auth, create_webchat

WEEK = {
    "enabled": True,
    "timezone": "Europe/Moscow",
    "business_time_only": True,
    "schedule": [
        {"weekday": 1, "opens": "09:00", "closes": "13:00"},
        {"weekday": 1, "opens": "14:00", "closes": "18:00"},
        {"weekday": 5, "opens": "20:00", "closes": "24:00"},
    ],
    "holidays": [{"date": "2026-12-31", "name": "New Year's Eve"}, {"date": "2027-01-01"}],
}


async def make_team(run: Running, admin: str, members: list[int] | None = None) -> int:
    r = await run.client.post(
        "/api/v1/teams", json={"name": "Sales", "member_ids": members or []}, headers=auth(admin)
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_a_schedule_is_saved_read_back_and_audited(run: Running) -> None:
    admin = await run.admin_token()
    team = await make_team(run, admin)
    r = await run.client.get(f"/api/v1/teams/{team}/business-hours", headers=auth(admin))
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is False and r.json()["open_now"] is True

    r = await run.client.put(f"/api/v1/teams/{team}/business-hours", json=WEEK, headers=auth(admin))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["enabled"] is True and body["timezone"] == "Europe/Moscow"
    assert body["schedule"] == WEEK["schedule"]
    assert body["holidays"] == [
        {"date": "2026-12-31", "name": "New Year's Eve"},
        {"date": "2027-01-01", "name": None},
    ]
    again = await run.client.get(f"/api/v1/teams/{team}/business-hours", headers=auth(admin))
    assert again.json() == body

    async with run.ctx.sessions() as s:
        action = await s.scalar(
            text(
                "SELECT action FROM audit_log WHERE target_type = 'team' AND target_id = :t "
                "ORDER BY id DESC LIMIT 1"
            ),
            {"t": team},
        )
    assert action == "team.business_hours"

    # Switched off: always open again, nothing left behind.
    r = await run.client.put(
        f"/api/v1/teams/{team}/business-hours",
        json={"enabled": False, "timezone": "UTC"},
        headers=auth(admin),
    )
    assert r.status_code == 200, r.text
    assert r.json()["schedule"] == [] and r.json()["open_now"] is True


async def test_bad_schedules_are_refused_and_nothing_changes(run: Running) -> None:
    admin = await run.admin_token()
    team = await make_team(run, admin)
    r = await run.client.put(f"/api/v1/teams/{team}/business-hours", json=WEEK, headers=auth(admin))
    assert r.status_code == 200, r.text
    bad = [
        {**WEEK, "timezone": "Mars/Olympus"},
        {**WEEK, "schedule": [{"weekday": 8, "opens": "09:00", "closes": "10:00"}]},
        {**WEEK, "schedule": [{"weekday": 1, "opens": "18:00", "closes": "09:00"}]},
        {**WEEK, "schedule": [{"weekday": 1, "opens": "9:00", "closes": "25:00"}]},
        {
            **WEEK,
            "schedule": [
                {"weekday": 2, "opens": "09:00", "closes": "13:00"},
                {"weekday": 2, "opens": "12:00", "closes": "18:00"},
            ],
        },
        {**WEEK, "holidays": [{"date": "2026-12-31"}, {"date": "2026-12-31"}]},
    ]
    for body in bad:
        r = await run.client.put(
            f"/api/v1/teams/{team}/business-hours", json=body, headers=auth(admin)
        )
        assert r.status_code == 422, (body, r.text)
    r = await run.client.get(f"/api/v1/teams/{team}/business-hours", headers=auth(admin))
    assert r.json()["schedule"] == WEEK["schedule"]


async def test_members_read_and_only_admins_write(run: Running) -> None:
    admin = await run.admin_token()
    operator = await run.operator_token()
    me = (await run.client.get("/api/v1/operators/me", headers=auth(operator))).json()["id"]
    team = await make_team(run, admin, [me])
    r = await run.client.get(f"/api/v1/teams/{team}/business-hours", headers=auth(operator))
    assert r.status_code == 200, r.text
    r = await run.client.put(
        f"/api/v1/teams/{team}/business-hours", json=WEEK, headers=auth(operator)
    )
    assert r.status_code == 403, r.text
    outsider = await create_operator(run, "out@example.com", "operator")
    r = await run.client.get(f"/api/v1/teams/{team}/business-hours", headers=auth(outsider))
    assert r.status_code == 403, r.text


async def test_auto_reply_texts_per_channel_and_language(run: Running) -> None:
    admin = await run.admin_token()
    channel = (await create_webchat(run.client, admin))["id"]
    texts = {
        "greeting": {"en": "Hello!", "ru": "Здравствуйте!"},
        "out_of_office": {"en": "We are closed", "ru": "  "},
    }
    r = await run.client.put(
        f"/api/v1/channels/{channel}/auto-replies", json=texts, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    # An empty text switches that language off.
    assert r.json() == {
        "channel_id": channel,
        "greeting": {"en": "Hello!", "ru": "Здравствуйте!"},
        "out_of_office": {"en": "We are closed"},
    }
    r = await run.client.put(
        f"/api/v1/channels/{channel}/auto-replies",
        json={"greeting": {"de": "Hallo"}},
        headers=auth(admin),
    )
    assert r.status_code == 422, r.text
    r = await run.client.get(f"/api/v1/channels/{channel}/auto-replies", headers=auth(admin))
    assert r.json()["greeting"] == {"en": "Hello!", "ru": "Здравствуйте!"}
