"""Schemathesis against the app's own OpenAPI document, in process (ASGI), authenticated as
an admin: for every operation a bounded number of generated requests; no answer may be a
500, and every documented response must match its schema."""

import warnings
from typing import Any

import pytest
import schemathesis
from hypothesis.errors import NonInteractiveExampleWarning
from schemathesis.checks import not_a_server_error, response_schema_conformance
from sqlalchemy import text

from tests.conftest import Running
from tests.helpers import auth

EXAMPLES_PER_OPERATION = 6
# Logout would revoke the token the run is using (it has its own tests).
SKIP = {("POST", "/api/v1/auth/logout")}


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def test_openapi_fuzz(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.engine.begin() as conn:
        admin_id = (await conn.execute(text("SELECT id FROM operators"))).scalar_one()
    schema = schemathesis.openapi.from_dict(run.app.openapi())
    calls = 0
    failures: list[str] = []
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        strategy = operation.as_strategy()
        for _ in range(EXAMPLES_PER_OPERATION):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NonInteractiveExampleWarning)
                case = strategy.example()
            kwargs = case.as_transport_kwargs(base_url="http://test", headers=auth(admin))
            # Generated credentials would shadow the admin's bearer token.
            kwargs["headers"] = {
                k: v for k, v in kwargs.get("headers", {}).items() if k.lower() != "x-api-key"
            } | auth(admin)
            kwargs.pop("follow_redirects", None)
            kwargs.pop("allow_redirects", None)
            response = await run.client.request(**kwargs)
            await response.request.aread()  # a multipart upload streams; the checks reread it
            calls += 1
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            try:
                case.validate_response(
                    response, checks=[not_a_server_error, response_schema_conformance]
                )
            except Exception as exc:  # collected: one report for every operation
                failures.append(f"{case.method} {case.path}: {str(exc)[:800]}")
            # Keep the caller an active admin whatever the request did to operator 1.
            async with run.ctx.engine.begin() as conn:
                await conn.execute(
                    text(
                        "UPDATE operators SET is_active = true, role = 'admin', "
                        "token_version = 0 WHERE id = :id"
                    ),
                    {"id": admin_id},
                )
    print(f"\nschemathesis: {calls} requests, statuses {statuses}")
    assert not failures, "\n\n".join(failures[:10])
    assert calls > 100
