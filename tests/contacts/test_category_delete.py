"""Issue 17 (contacts): a category in use is not deleted behind its contacts' backs: 409 with
the count, or `move_to` moves them (in the same transaction) and then deletes."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from app.contacts import service as contacts_service
from tests.conftest import Running
from tests.helpers import auth


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def categories_of(run: Running) -> dict[str, str | None]:
    async with run.ctx.sessions() as s:
        rows = (await s.execute(text("SELECT name, category FROM contacts"))).all()
    return {r.name: r.category for r in rows}


async def test_deleting_a_category_in_use(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as s:
        for name, category in [("c1", "C"), ("c2", "C"), ("c3", "C"), ("b1", "B"), ("n", None)]:
            await s.execute(
                text("INSERT INTO contacts (name, category) VALUES (:n, :c)"),
                {"n": name, "c": category},
            )
        await s.commit()

    r = await run.client.delete("/api/v1/categories/C", headers=auth(admin))
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "category_in_use"
    assert error["details"] == {"contacts": 3}
    assert "3 contacts" in error["message"]
    assert (await categories_of(run))["c1"] == "C"

    # move_to must be another existing category: nothing changes otherwise.
    for bad in ("Z", "C"):
        r = await run.client.delete(f"/api/v1/categories/C?move_to={bad}", headers=auth(admin))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "unknown_category"

    r = await run.client.delete("/api/v1/categories/C?move_to=B", headers=auth(admin))
    assert r.status_code == 204, r.text
    assert await categories_of(run) == {"c1": "B", "c2": "B", "c3": "B", "b1": "B", "n": None}
    r = await run.client.get("/api/v1/categories", headers=auth(admin))
    assert [c["code"] for c in r.json()] == ["A", "B", "D"]

    # An unused category goes without move_to.
    r = await run.client.delete("/api/v1/categories/A", headers=auth(admin))
    assert r.status_code == 204, r.text


async def test_a_contact_moved_into_a_category_being_deleted_waits(run: Running) -> None:
    """Concurrently: while a delete holds the category, a PATCH putting a contact into it
    waits, then finds the category gone (never a contact in a deleted category)."""
    admin = await run.admin_token()
    async with run.ctx.sessions() as s:
        contact = await s.scalar(
            text("INSERT INTO contacts (name, category) VALUES ('x', NULL) RETURNING id")
        )
        await s.commit()
    async with run.ctx.sessions() as deleting:
        await contacts_service.delete_category(deleting, "D")
        patch = asyncio.create_task(
            run.client.patch(
                f"/api/v1/contacts/{contact}", json={"category": "D"}, headers=auth(admin)
            )
        )
        await asyncio.sleep(0.5)
        assert not patch.done()  # blocked on the category's row lock
        await deleting.commit()
    r = await asyncio.wait_for(patch, timeout=10)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_category"
    assert (await categories_of(run))["x"] is None
