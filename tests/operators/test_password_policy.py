"""Operator passwords: at least 10 characters, and not common or guessable (zxcvbn: its
packaged lists of common passwords, names and words, keyboard walks, repeats, and the
operator's own email and name). A refusal is 422 weak_password and changes nothing."""

import pytest

from tests.conftest import Running
from tests.helpers import auth
from tests.operators.test_authorization import count, error_of

WEAK = [
    "password",  # short and common: both were accepted before
    "12345678",
    "password123",
    "1234567890",
    "qwertyuiop",
    "iloveyou12",
    "aaaaaaaaaaaa",
    "nina.novak@example.com",  # the operator's own email
]


@pytest.mark.parametrize("password", WEAK)
async def test_weak_passwords_are_refused(run: Running, password: str) -> None:
    admin = await run.admin_token()
    before = await count(run, "operators")
    r = await run.client.post(
        "/api/v1/operators",
        json={"email": "nina.novak@example.com", "name": "Nina Novak", "password": password},
        headers=auth(admin),
    )
    error_of(r, 422, "weak_password")
    assert await count(run, "operators") == before


async def test_a_password_change_follows_the_same_rule(run: Running) -> None:
    admin = await run.admin_token()
    r = await run.client.post(
        "/api/v1/operators",
        json={"email": "olga@example.com", "name": "Olga", "password": "violet-canyon-3391"},
        headers=auth(admin),
    )
    assert r.status_code == 201, r.text
    olga = r.json()["id"]
    for weak in ("short", "password123", "olga@example.com"):
        r = await run.client.patch(
            f"/api/v1/operators/{olga}", json={"password": weak}, headers=auth(admin)
        )
        error_of(r, 422, "weak_password")
    # Nothing changed: the old password still logs in, the admin's token still works.
    r = await run.client.post(
        "/api/v1/auth/login", json={"email": "olga@example.com", "password": "violet-canyon-3391"}
    )
    assert r.status_code == 200, r.text
    r = await run.client.patch(
        f"/api/v1/operators/{olga}", json={"password": "seven-quiet-otters-12"}, headers=auth(admin)
    )
    assert r.status_code == 200, r.text
    r = await run.client.post(
        "/api/v1/auth/login",
        json={"email": "olga@example.com", "password": "seven-quiet-otters-12"},
    )
    assert r.status_code == 200, r.text
