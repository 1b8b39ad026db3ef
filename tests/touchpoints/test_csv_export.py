"""Issue 17 (touchpoints): the CSV export opens in Excel: a UTF-8 BOM, a chosen delimiter
(`;` for Russian locales), formula-looking cells neutralised (OWASP: a leading quote), and
the contact's and manager's names next to their ids."""

import csv
import io
from typing import Any

import pytest

from tests.analytics.history import RANGE, History, day
from tests.conftest import Running
from tests.helpers import auth


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


async def export(run: Running, token: str, **params: Any) -> Any:
    return await run.client.get(
        "/api/v1/touchpoints/export.csv", params={**RANGE, **params}, headers=auth(token)
    )


async def test_excel_friendly_export(run: Running) -> None:
    admin = await run.admin_token()
    async with run.ctx.sessions() as session:
        h = History(session)
        boss = await h.operator("@Boss")
        olga = await h.operator("Ольга Петрова")
        evil = await h.contact(boss, name='=HYPERLINK("http://evil.example/?x","Click")')
        anna = await h.contact(olga, name="Анна; Иванова")
        await h.touch(evil, day(1), operator=boss)
        await h.touch(anna, day(2), operator=olga, direction="inbound")
        await h.touch(anna, day(3))  # no manager
        await h.contact(name="+79001234567")  # no touch in the range: not exported
        await h.touch(await h.contact(name="-2+3"), day(4))
        await h.touch(await h.contact(name="\tTab"), day(5))
        await h.touch(await h.contact(name="\rCR"), day(6))
        await h.touch(await h.contact(name="safe - name"), day(7))
        await session.commit()

    r = await export(run, admin, delimiter=";")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    body = r.content
    assert body.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM, once
    assert body.count(b"\xef\xbb\xbf") == 1
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    header, data = rows[0], rows[1:]
    assert header[:6] == [
        "id",
        "occurred_at",
        "contact_id",
        "contact_name",
        "conversation_id",
        "message_id",
    ]
    assert header[6:8] == ["operator_id", "operator_name"]
    col = {name: i for i, name in enumerate(header)}
    names = [(row[col["contact_name"]], row[col["operator_name"]]) for row in data]
    assert names == [
        ('\'=HYPERLINK("http://evil.example/?x","Click")', "'@Boss"),
        ("Анна; Иванова", "Ольга Петрова"),
        ("Анна; Иванова", ""),
        ("'-2+3", ""),
        ("'\tTab", ""),
        ("'\rCR", ""),
        ("safe - name", ""),
    ]
    # Every row has one cell per column: the ';' inside a name is quoted, not a separator.
    assert {len(row) for row in rows} == {len(header)}

    # The default stays a comma; a tab is allowed too.
    r = await export(run, admin)
    assert r.content.decode("utf-8-sig").splitlines()[0].startswith("id,occurred_at,contact_id,")
    r = await export(run, admin, delimiter="\t")
    assert r.content.decode("utf-8-sig").splitlines()[0].startswith("id\toccurred_at\t")


async def test_an_unknown_delimiter_is_a_clear_error(run: Running) -> None:
    admin = await run.admin_token()
    r = await export(run, admin, delimiter="|")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_delimiter"
