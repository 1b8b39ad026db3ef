"""Health, readiness and Prometheus metrics."""

from tests.conftest import Running
from tests.helpers import create_webchat, visitor_post, visitor_session


async def test_health_ready_and_metrics(run: Running) -> None:
    assert (await run.client.get("/healthz")).json() == {"status": "ok"}
    ready = (await run.client.get("/readyz")).json()
    assert ready["database"] == "ok" and ready["bus"] == "connected"

    admin = await run.admin_token()
    key = (await create_webchat(run.client, admin))["public_key"]
    token = (await visitor_session(run.client, key))["visitor_token"]
    await visitor_post(run.client, key, token, "hi")

    text = (await run.client.get("/metrics")).text
    # Route labels are path templates (no ids), so cardinality stays bounded.
    assert (
        'chatcentre_http_requests_total{method="POST",route="/widget/v1/{widget_key}/messages",'
        'status="201"}' in text
    )
    assert key not in text
    assert 'chatcentre_ingested_messages_total{channel="webchat"}' in text
    assert "chatcentre_outbox_queue_depth" in text
    assert "chatcentre_send_failures_total" in text or "chatcentre_messages_sent_total" in text
