"""The rules the database applies are the Python ones: the SQL is written from the constants
(change one and the function's text changes) and computes what Python computes."""

import importlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

import app.ingest.sql as ingest_sql
import app.routing.sql as routing_sql
import app.touchpoints.sql as touchpoints_sql
from app.inbox import rules as inbox_rules
from app.inbox.models import ConversationStatus
from app.routing import service as routing_service
from app.touchpoints import rules as touch_rules
from app.touchpoints.models import Reaction, TouchKind


@pytest.fixture
async def conn(migrated: str) -> AsyncIterator[AsyncConnection]:
    engine = create_async_engine(migrated)
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            try:
                yield connection
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()


def _texts() -> dict[str, str]:
    """The rebuilt declarations' texts, read afresh from their modules."""
    return {
        "touch": touchpoints_sql.RECORD_TOUCHPOINT.text,
        "reaction": touchpoints_sql.REACTION_FOR.text,
        "due": routing_sql.RESPONSE_DUE_AT.text,
        "ingest": ingest_sql.INGEST_MESSAGE.text,
    }


@pytest.fixture
def patch(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The declarations are built at import: rebuilt from the patched constants in a test,
    and from the real ones again after it (the patches undone first)."""
    before = _texts()
    yield monkeypatch
    monkeypatch.undo()
    for module in (touchpoints_sql, routing_sql, ingest_sql):
        importlib.reload(module)
    assert _texts() == before


def test_changing_a_constant_changes_the_sql(patch: pytest.MonkeyPatch) -> None:
    monkeypatch = patch
    before = _texts()
    monkeypatch.setattr(
        touch_rules, "SHAPES", {**touch_rules.SHAPES, TouchKind.note: ("weekly", "glance")}
    )
    monkeypatch.setattr(
        touch_rules, "REACTION_BY_RATING", {**touch_rules.REACTION_BY_RATING, 3: Reaction.positive}
    )
    monkeypatch.setattr(
        routing_service,
        "DEFAULT_POLICY",
        replace(routing_service.DEFAULT_POLICY, response_target_seconds=4321),
    )
    monkeypatch.setattr(inbox_rules, "REOPEN_ON_INBOUND", (ConversationStatus.snoozed,))
    monkeypatch.setattr(inbox_rules, "CLOSED", ConversationStatus.snoozed)
    for module in (touchpoints_sql, routing_sql, ingest_sql):
        importlib.reload(module)

    assert "WHEN 'note' THEN 'weekly'" in touchpoints_sql.RECORD_TOUCHPOINT.text
    assert "WHEN 'note' THEN 'glance'" in touchpoints_sql.RECORD_TOUCHPOINT.text
    assert "WHEN 3 THEN 'positive'" in touchpoints_sql.REACTION_FOR.text
    assert "4321" in routing_sql.RESPONSE_DUE_AT.text
    assert "cv.status IN ('snoozed') THEN 'open'" in ingest_sql.INGEST_MESSAGE.text
    assert "cv.status <> 'snoozed'" in ingest_sql.INGEST_MESSAGE.text
    after = _texts()
    assert all(after[k] != before[k] for k in before)


async def test_a_touchpoint_gets_the_shape_python_gives_its_kind(conn: AsyncConnection) -> None:
    contact_id = await conn.scalar(text("INSERT INTO contacts DEFAULT VALUES RETURNING id"))
    for kind in TouchKind:
        touchpoint_id = await conn.scalar(
            text(
                "SELECT chatcentre_record_touchpoint(:contact, NULL, NULL, NULL, NULL, 'api', "
                "'internal', :kind, NULL, NULL, NULL, NULL, NULL, NULL)"
            ),
            {"contact": contact_id, "kind": kind.value},
        )
        row = (
            await conn.execute(
                text("SELECT recurrence, attention, reaction FROM touchpoints WHERE id = :id"),
                {"id": touchpoint_id},
            )
        ).one()
        assert (row.recurrence, row.attention) == touch_rules.shape_of(kind), kind
        assert row.reaction == Reaction.unknown


async def test_a_rating_means_the_same_reaction_in_sql(conn: AsyncConnection) -> None:
    for rating in range(1, 6):
        in_sql = await conn.scalar(text("SELECT chatcentre_reaction_for(:r)"), {"r": rating})
        assert in_sql == touch_rules.reaction_for(rating).value


async def test_the_default_reply_deadline_is_the_default_policy(conn: AsyncConnection) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    due = await conn.scalar(
        text("SELECT due_at FROM chatcentre_response_due_at(NULL, :now)"), {"now": now}
    )
    assert due == now + timedelta(seconds=routing_service.DEFAULT_POLICY.response_target_seconds)


def test_active_statuses_follow_from_the_closed_one() -> None:
    assert set(inbox_rules.ACTIVE_STATUSES) == set(ConversationStatus) - {inbox_rules.CLOSED}
    assert set(inbox_rules.REOPEN_ON_INBOUND) <= set(inbox_rules.ACTIVE_STATUSES)
