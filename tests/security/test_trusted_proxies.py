"""X-Forwarded-For is believed only from CHATCENTRE_TRUSTED_PROXIES (default: nobody), so
a client cannot pick its own IP to dodge per-IP limits or to write the audit log. Served by
uvicorn on loopback like `chatcentre serve`, so the peer is 127.0.0.1: the address uvicorn
used to trust by default."""

from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.conftest import LiveServer, Running, make_settings, serve_app, truncate_all
from tests.helpers import auth

LOGIN_LIMIT = 3


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limit_login": f"{LOGIN_LIMIT}/minute"}


async def logins(client: httpx.AsyncClient, n: int) -> list[int]:
    """n failed logins, each claiming another client address."""
    statuses = []
    for i in range(n):
        r = await client.post(
            "/api/v1/auth/login",
            json={"email": "nobody@example.com", "password": "wrong-password"},
            headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
        )
        statuses.append(r.status_code)
    return statuses


async def audited_ip(live: LiveServer, admin: str) -> str:
    r = await live.client.post(
        "/api/v1/teams",
        json={"name": f"team-{id(live)}"},
        headers={**auth(admin), "X-Forwarded-For": "198.51.100.7"},
    )
    assert r.status_code == 201, r.text
    r = await live.client.get(
        "/api/v1/audit-log", params={"action": "team.create"}, headers=auth(admin)
    )
    ip: str = r.json()["items"][0]["ip"]
    return ip


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(live: LiveServer) -> None:
    assert live.ctx.settings.trusted_proxies == ""  # the default
    admin = await Running(app=None, ctx=live.ctx, client=live.client).admin_token()  # type: ignore[arg-type]
    # Every request claims another address, yet all count against the real one (which
    # the admin's login used once already).
    assert await logins(live.client, LOGIN_LIMIT + 2) == [401] * (LOGIN_LIMIT - 1) + [429] * 3
    assert await audited_ip(live, admin) == "127.0.0.1"


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    settings: Settings, tmp_path: Path
) -> None:
    trusted = make_settings(
        tmp_path,
        settings.database_url or "",
        rate_limit_login=f"{LOGIN_LIMIT}/minute",
        trusted_proxies="10.0.0.0/8, 127.0.0.1",
    )
    async with serve_app(trusted) as live:
        admin = await Running(app=None, ctx=live.ctx, client=live.client).admin_token()  # type: ignore[arg-type]
        assert await logins(live.client, LOGIN_LIMIT + 2) == [401] * (LOGIN_LIMIT + 2)
        assert await audited_ip(live, admin) == "198.51.100.7"
    await truncate_all(live.ctx.database_url)
