"""The webhook senders: every process runs one. A round fans out the new stored events
into deliveries, then claims due deliveries (SKIP LOCKED, with a lease so a dead process's
claims come back), sends them concurrently and records each outcome in a transaction of its
own: 2xx delivered; anything else retried with exponential backoff and jitter until the
retry window ends (failed). An endpoint that has failed without a success for a day is
disabled, with an audit entry; the console shows its disabled_reason."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.core.context import AppContext
from app.core.periodic import Periodic
from app.delivery.backoff import retry_delay
from app.events import store
from app.webhooks import service
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from app.webhooks.transport import allowed_networks, send

LEASE_SECONDS = 300
BATCH = 50

# The oldest pending delivery of each (endpoint, conversation) only: per-conversation order.
_CLAIM = text("""
UPDATE webhook_deliveries SET claimed_until = now() + make_interval(secs => :lease)
WHERE id IN (
    SELECT d.id FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.is_active
    WHERE d.status = 'pending' AND d.next_attempt_at <= now()
      AND (d.claimed_until IS NULL OR d.claimed_until < now())
      AND (d.conversation_id IS NULL OR NOT EXISTS (
          SELECT 1 FROM webhook_deliveries older
          WHERE older.endpoint_id = d.endpoint_id
            AND older.conversation_id = d.conversation_id
            AND older.status = 'pending' AND older.id < d.id))
    ORDER BY d.id
    LIMIT :batch
    FOR UPDATE OF d SKIP LOCKED)
RETURNING id
""")


class WebhookSender(Periodic):
    def __init__(self, ctx: AppContext):
        super().__init__(ctx, interval=ctx.settings.webhook_poll_seconds)
        self.allowed = allowed_networks(ctx.settings.webhook_allowed_networks)
        self._client: httpx.AsyncClient | None = None
        self._gaps: store.Gaps = {}  # event ids that may still commit (events.store)

    async def run_forever(self) -> None:
        try:
            await super().run_forever()
        finally:
            if self._client is not None:
                await self._client.aclose()
                self._client = None

    async def round(self) -> None:
        settings = self.ctx.settings
        while True:
            async with self.ctx.sessions() as session:
                read = await service.fan_out(session, settings, self._gaps)
                await session.commit()
            if read < 1000:
                break
        while await self.send_due():
            pass

    async def send_due(self) -> int:
        async with self.ctx.sessions() as session:
            ids = list(
                (await session.execute(_CLAIM, {"lease": LEASE_SECONDS, "batch": BATCH})).scalars()
            )
            await session.commit()
        if not ids:
            return 0
        if self._client is None:
            # No proxy from the environment: it would bypass the address checks.
            self._client = httpx.AsyncClient(trust_env=False)
        await asyncio.gather(*(self._deliver(i) for i in ids))
        return len(ids)

    async def _deliver(self, delivery_id: int) -> None:
        settings = self.ctx.settings
        async with self.ctx.sessions() as session:
            d = await session.get(WebhookDelivery, delivery_id)
            endpoint = await session.get(WebhookEndpoint, d.endpoint_id) if d else None
            if d is None or endpoint is None:
                return
            url, secret, message_id, body = (
                endpoint.url,
                service.secret_of(endpoint),
                d.message_id,
                d.body,
            )
        assert self._client is not None
        outcome = await send(
            self._client,
            url,
            secret,
            message_id,
            body,
            allowed=self.allowed,
            attempt_seconds=settings.webhook_timeout_seconds,
        )
        now = datetime.now(UTC)
        async with self.ctx.sessions() as session:
            d = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
            endpoint = (
                await session.get(WebhookEndpoint, d.endpoint_id, with_for_update=True)
                if d
                else None
            )
            if d is None or endpoint is None:
                return
            d.attempts += 1
            d.last_attempt_at = now
            d.last_status_code = outcome.status_code
            d.last_error = outcome.error
            d.claimed_until = None
            if outcome.ok:
                d.status = DeliveryStatus.delivered
                endpoint.failing_since = None
            else:
                delay = retry_delay(
                    d.attempts,
                    settings.webhook_backoff_initial_seconds,
                    settings.webhook_backoff_max_seconds,
                )
                due = now + timedelta(seconds=delay)
                if due > d.give_up_at:
                    d.status = DeliveryStatus.failed
                else:
                    d.next_attempt_at = due
                await self._note_failure(session, endpoint, now)
            await session.commit()

    async def _note_failure(
        self, session: AsyncSession, endpoint: WebhookEndpoint, now: datetime
    ) -> None:
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            return
        limit = timedelta(seconds=self.ctx.settings.webhook_disable_after_seconds)
        if endpoint.is_active and now - endpoint.failing_since >= limit:
            endpoint.is_active = False
            endpoint.disabled_reason = "failing"
            await audit.record(
                session,
                actor_kind="system",
                actor_id=None,
                action="webhook.disabled",
                target_type="webhook",
                target_id=endpoint.id,
                details={"reason": "failing", "failing_since": endpoint.failing_since.isoformat()},
            )
