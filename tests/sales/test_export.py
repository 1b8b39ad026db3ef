"""The reports' CSV and XLSX exports through the API: the same figures as the JSON report
(worked out by hand below), the caller's scope, and cells that would be formulas (a client or
a manager named "=HYPERLINK(...)") kept as text: quoted in CSV, strings in XLSX."""

import csv
import io
import zipfile
from typing import Any
from xml.etree import ElementTree

import pytest

from tests.conftest import Running
from tests.helpers import auth
from tests.sales.scenario import Sales, day, get

ANNA = '=HYPERLINK("http://evil.example","Anna")'
C1 = "=cmd|' /C calc'!A0"
C2 = "+7 900 000-00-00"
C3 = "@SUM(A1:A9)"
C4 = "-2+3"
WEEK = {"week": "2026-03-04"}
BEHIND_HEAD = ["client", "client id", "manager id", "level", "calls missing"]
BEHIND_HEAD += ["meetings missing", "messages missing"]
ON = {"on": "2026-03-12"}  # day(10)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"run_workers": False}


def neutral(value: Any) -> str:
    """A JSON value as the CSV must carry it: a formula's first character behind a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def sections(body: bytes) -> list[list[list[str]]]:
    """The CSV's tables (separated by an empty row)."""
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")
    tables: list[list[list[str]]] = [[]]
    for row in csv.reader(io.StringIO(text[1:])):
        if row:
            tables[-1].append(row)
        else:
            tables.append([])
    return tables


_NS = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def workbook(body: bytes) -> dict[str, list[list[tuple[str, str]]]]:
    """Each sheet's rows as (cell type, value): "s" a string, "n" a number. A formula
    anywhere fails the test."""
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        names = [
            s.get("name")
            for s in ElementTree.fromstring(z.read("xl/workbook.xml")).iterfind(".//x:sheet", _NS)
        ]
        shared = [
            "".join(t.text or "" for t in si.iterfind(".//x:t", _NS))
            for si in ElementTree.fromstring(z.read("xl/sharedStrings.xml")).iterfind("x:si", _NS)
        ]
        out: dict[str, list[list[tuple[str, str]]]] = {}
        for n, name in enumerate(names, start=1):
            sheet = ElementTree.fromstring(z.read(f"xl/worksheets/sheet{n}.xml"))
            assert sheet.find(".//x:f", _NS) is None, "a formula in the workbook"
            rows = []
            for row in sheet.iterfind(".//x:row", _NS):
                cells = []
                for c in row.iterfind("x:c", _NS):
                    v = c.findtext("x:v", "", _NS)
                    cells.append(("s", shared[int(v)]) if c.get("t") == "s" else ("n", v))
                rows.append(cells)
            out[str(name)] = rows
    return out


async def export(run: Running, token: str, name: str, expect: int = 200, **params: Any) -> bytes:
    r = await run.client.get(
        f"/api/v1/analytics/export/{name}",
        params={"timezone": "UTC", **params},
        headers=auth(token),
    )
    assert r.status_code == expect, r.text
    return r.content


async def test_exports_match_the_reports_scoped_and_formula_safe(run: Running) -> None:
    admin, op = await run.admin_token(), await run.operator_token()
    async with run.ctx.sessions() as session:
        h = Sales(session)
        anna = await h.operator(ANNA)
        me = (await get(run, op, "operators/me"))["id"]
        # Week Mon 2 - Sun 8 March 2026; level 1 owes 5 calls and 5 meetings per 28 days.
        c1 = await h.client(anna, level=1, category="A", name=C1)
        await h.touches(c1, [day(1), day(2)], kind="call", channel="phone")  # due day(9)
        # Level 4 owes 2 and 2; never touched, created day(0): due day(7).
        c2 = await h.client(me, level=4, category="A", name=C2)
        await h.client(me, level=5, name=C3)  # owes nothing, no category
        await h.client(me, level=4, stage="lost", category="A", name=C4)  # not in the base
        await session.commit()

    # ---- quotas, by hand: Anna 1 client, calls 2 of 5, meetings 0 of 5 -> 2/10;
    # op 2 clients, calls 0 of 2, meetings 0 of 2 -> 0/4; op is further behind.
    data = await get(run, admin, "analytics/quotas", **WEEK)
    head = ["manager", "clients", "behind", "calls owed", "calls met", "meetings owed"]
    head += ["meetings met", "messages owed", "messages met", "fulfilment"]
    managers = [["op", 2, 1, 2, 0, 2, 0, 0, 0, 0.0], [ANNA, 1, 1, 5, 2, 5, 0, 0, 0, 0.2]]
    assert [
        [
            m["name"],
            m["clients"],
            m["clients_behind"],
            m["owed"]["calls"],
            m["met"]["calls"],
            m["owed"]["meetings"],
            m["met"]["meetings"],
            m["owed"]["messages"],
            m["met"]["messages"],
            m["fulfilment"],
        ]
        for m in data["managers"]
    ] == managers
    levels = {x["level"]: x["name"] for x in await get_list(run, admin, "priority-levels")}
    behind = [[C2, c2, me, levels[4], 2, 2, 0], [C1, c1, anna, levels[1], 3, 5, 0]]
    assert [
        [b["name"], b["contact_id"], b["owner_id"], b["level_name"], *b["missing"].values()]
        for b in data["behind"]
    ] == behind
    tables = sections(await export(run, admin, "quotas.csv", **WEEK))
    assert tables == [
        [head, *[[neutral(v) for v in row] for row in managers]],
        [
            BEHIND_HEAD,
            *[[neutral(v) for v in row] for row in behind],
        ],
    ]
    book = workbook(await export(run, admin, "quotas.xlsx", **WEEK))
    assert list(book) == ["quotas", "behind plan"]
    assert [v for _, v in book["quotas"][0]] == head
    assert book["quotas"][2][0] == ("s", ANNA)  # the text as it is, a string cell
    assert book["quotas"][2][1:] == [
        ("n", v) for v in ["1", "1", "5", "2", "5", "0", "0", "0", "0.2"]
    ]
    assert [row[0] for row in book["behind plan"][1:]] == [("s", C2), ("s", C1)]

    # ---- base health on day(10), by hand: c1 last touched day(2), due day(9): 1 day late;
    # c2 never touched, due day(7): 3 days late. Live bases 1 and 2 (the lost client is out).
    data = await get(run, admin, "analytics/base-health", **ON)
    rows = {m["name"]: m for m in data["managers"]}
    assert [rows[ANNA]["live_base"], rows["op"]["live_base"]] == [1, 2]
    late = [
        [c[k] for k in ("name", "contact_id")]
        + [m["name"]]
        + [c[k] for k in ("category", "last_at", "due_on", "days_overdue")]
        for m in data["managers"]
        for c in m["overdue_clients"]
    ]
    assert {(r[1], r[6]) for r in late} == {(c1, 1), (c2, 3)}
    managers_rows = [
        [m["name"], m["live_base"], m["band"], m["overdue"], m["review_due"]]
        for m in data["managers"]
    ]
    tables = sections(await export(run, admin, "base-health.csv", **ON))
    assert tables[0][1:] == [[neutral(v) for v in row] for row in managers_rows]
    # The last touch: ISO 8601 both ways (JSON's "Z" is the CSV's "+00:00").
    late = [[*row[:4], row[4] and row[4].replace("Z", "+00:00"), *row[5:]] for row in late]
    assert tables[1][1:] == [[neutral(v) for v in row] for row in late]
    book = workbook(await export(run, admin, "base-health.xlsx", **ON))
    assert {row[0] for row in book["overdue clients"][1:]} == {("s", C1), ("s", C2)}

    # ---- the other reports: the same managers in the same order as their JSON.
    for report, params in (
        ("weekly-plan", WEEK),
        ("kpis", {"from": "2026-03-02", "to": "2026-03-12"}),
    ):
        data = await get(run, admin, f"analytics/{report}", **params)
        tables = sections(await export(run, admin, f"{report}.csv", **params))
        assert [row[0] for row in tables[0][1:]] == [neutral(m["name"]) for m in data["managers"]]
        assert neutral(ANNA) in [row[0] for row in tables[0][1:]]

    # ---- scope: an operator's exports hold their own figures only.
    for report, params in (("quotas", WEEK), ("base-health", ON), ("weekly-plan", WEEK)):
        tables = sections(await export(run, op, f"{report}.csv", **params))
        assert [row[0] for row in tables[0][1:]] == ["op"], report
        if len(tables) > 1:
            assert [row[0] for row in tables[1][1:]] == [neutral(C2)], report
        book = workbook(await export(run, op, f"{report}.xlsx", **params))
        assert ANNA not in {v for sheet in book.values() for row in sheet for _, v in row}
    await export(run, op, "quotas.csv", 403, operator_id=anna, **WEEK)
    await export(run, op, "quotas.xlsx", 403, operator_id=anna, **WEEK)


async def get_list(run: Running, token: str, path: str) -> list[dict[str, Any]]:
    r = await run.client.get(f"/api/v1/{path}", headers=auth(token))
    assert r.status_code == 200, r.text
    result: list[dict[str, Any]] = r.json()
    return result
