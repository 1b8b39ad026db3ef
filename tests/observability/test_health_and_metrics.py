"""Health, readiness and Prometheus metrics; /metrics only for the metrics token, the API
documentation only when switched on."""

from typing import Any

import pytest

from tests.conftest import Running, make_settings, running_app
from tests.helpers import auth, create_webchat, visitor_post, visitor_session
from tests.operators.test_authorization import error_of

METRICS_TOKEN = "scraper-token-0123456789abcdef"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"metrics_token": METRICS_TOKEN}


async def test_health_ready_and_metrics(run: Running) -> None:
    assert (await run.client.get("/healthz")).json() == {"status": "ok"}
    ready = (await run.client.get("/readyz")).json()
    assert ready["database"] == "ok" and ready["bus"] == "connected"

    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    token = (await visitor_session(run.client, key))["visitor_token"]
    await visitor_post(run.client, key, token, "hi")

    text = (await run.client.get("/metrics", headers=auth(METRICS_TOKEN))).text
    # Route labels are path templates (no ids), so cardinality stays bounded.
    assert (
        'chatcentre_http_requests_total{method="POST",route="/widget/v1/{widget_key}/messages",'
        'status="201"}' in text
    )
    assert key not in text
    assert 'chatcentre_ingested_messages_total{channel="webchat"}' in text
    assert "chatcentre_outbox_queue_depth" in text
    assert "chatcentre_send_failures_total" in text or "chatcentre_messages_sent_total" in text


async def test_metrics_need_their_token(run: Running) -> None:
    admin = await run.admin_token()
    for headers in ({}, auth("wrong"), auth(admin), {"Authorization": METRICS_TOKEN}):
        r = await run.client.get("/metrics", headers=headers)
        error_of(r, 401, "unauthorized")
        assert r.headers["www-authenticate"] == "Bearer"
    r = await run.client.get("/metrics", headers=auth(METRICS_TOKEN))
    assert r.status_code == 200 and "chatcentre_outbox_queue_depth" in r.text


async def test_metrics_and_docs_are_off_by_default(run: Running, tmp_path: Any) -> None:
    """Defaults: no metrics token, no docs: both answer 404 to anyone."""
    defaults = make_settings(tmp_path, run.ctx.database_url)
    async with running_app(defaults, truncate=False) as plain:
        error_of(await plain.client.get("/metrics"), 404, "metrics_disabled")
        error_of(await plain.client.get("/metrics", headers=auth("anything")), 404)
        for path in ("/docs", "/redoc", "/openapi.json"):
            error_of(await plain.client.get(path), 404)
    async with running_app(
        make_settings(tmp_path, run.ctx.database_url, docs_enabled=True), truncate=False
    ) as documented:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await documented.client.get(path)).status_code == 200, path
        assert "/api/v1/ws-ticket" in (await documented.client.get("/openapi.json")).json()["paths"]
