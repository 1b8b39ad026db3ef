"""The head of sales' reports as tables, for CSV (stdlib, the touchpoint export's safe
cells) and XLSX (XlsxWriter: write-only, no dependencies, strings written as strings so a
cell starting with "=" is never a formula). Figures come from the reports as they are;
nothing is computed here but the layout. A report with a client list (quotas: the clients
behind plan; base health: the overdue clients) has it as a second table: below the first
after an empty row in CSV, on a sheet of its own in XLSX."""

import csv
import io
from collections.abc import Sequence
from datetime import date
from typing import Any

import xlsxwriter

from app.sales import schemas as s
from app.touchpoints.service import UTF8_BOM, csv_cell

Table = tuple[list[str], list[list[Any]]]
Sheets = list[tuple[str, Table]]  # (sheet name, table), the report's own first


def quotas(r: s.Quotas) -> Sheets:
    return [("quotas", _quota_managers(r)), ("behind plan", _behind(r))]


def _behind(r: s.Quotas) -> Table:
    head = ["client", "client id", "manager id", "level", "calls missing", "meetings missing"]
    return [*head, "messages missing"], [
        [
            c.name,
            c.contact_id,
            c.owner_id,
            c.level_name,
            c.missing.calls,
            c.missing.meetings,
            c.missing.messages,
        ]
        for c in r.behind
    ]


def _quota_managers(r: s.Quotas) -> Table:
    head = ["manager", "clients", "behind", "calls owed", "calls met", "meetings owed"]
    head += ["meetings met", "messages owed", "messages met", "fulfilment"]
    return head, [
        [
            m.name,
            m.clients,
            m.clients_behind,
            m.owed.calls,
            m.met.calls,
            m.owed.meetings,
            m.met.meetings,
            m.owed.messages,
            m.met.messages,
            m.fulfilment,
        ]
        for m in r.managers
    ]


def weekly_plan(r: s.WeeklyPlan) -> Table:
    head = ["manager", "deals wanted", "contacts needed", "contacts", "touches", "deals won"]
    return [*head, "shortfall"], [
        [
            m.name,
            m.deals_wanted,
            m.contacts_needed,
            m.contacts_touched,
            m.touches,
            m.deals_won,
            m.shortfall,
        ]
        for m in r.managers
    ]


def rule_of_seven(r: s.RuleOfSeven) -> Table:
    labels = [p.bucket for p in r.reference]
    head = ["line", "known", *labels, "before 7th"]
    rows: list[list[Any]] = [["reference", None, *[p.share for p in r.reference], None]]
    lines: list[tuple[str, s.Conversion]] = [("all", r.overall)]
    lines += [(m.name or f"#{m.operator_id}", m) for m in r.by_manager]
    lines += [(f"channel: {c.channel}", c) for c in r.by_channel]
    for name, line in lines:
        shares = [b.share for b in line.buckets]
        rows.append([name, line.known, *shares, line.before_seventh_share])
    return head, rows


def base_health(r: s.BaseHealth) -> Sheets:
    head = ["manager", "live base", "band", "overdue", "review due"]
    managers = [[m.name, m.live_base, m.band, m.overdue, m.review_due] for m in r.managers]
    late = ["client", "client id", "manager", "category", "last touch", "due on", "days overdue"]
    clients = [
        [c.name, c.contact_id, m.name, c.category, c.last_at, c.due_on, c.days_overdue]
        for m in r.managers
        for c in m.overdue_clients
    ]
    return [("base-health", (head, managers)), ("overdue clients", (late, clients))]


def kpis(r: s.Kpis) -> Table:
    head = ["manager", "calls", "meetings", "deals", "average deal size", "conversions"]
    head += ["days to deal (median)", "new inbound", "new prospected"]
    rows = []
    for m in r.managers:
        sizes = "; ".join(f"{a.average} {a.currency or ''}".strip() for a in m.amounts if a.average)
        rows.append(
            [
                m.name,
                m.calls,
                m.meetings,
                m.deals,
                sizes,
                m.conversions,
                m.days_to_deal_median,
                m.new_inbound,
                m.new_prospected,
            ]
        )
    return head, rows


def to_csv(sheets: Sheets) -> bytes:
    buffer = io.StringIO()
    buffer.write(UTF8_BOM)
    writer = csv.writer(buffer)
    for n, (_, (head, rows)) in enumerate(sheets):
        if n:
            writer.writerow([])
        writer.writerow(head)
        for row in rows:
            writer.writerow([csv_cell(v) for v in row])
    return buffer.getvalue().encode()


def to_xlsx(sheets: Sheets) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    for sheet, (head, rows) in sheets:
        ws = book.add_worksheet(sheet[:31])
        for col, name in enumerate(head):
            ws.write_string(0, col, name, bold)
        for r, row in enumerate(rows, start=1):
            _write_row(ws, r, row)
        ws.set_column(0, 0, 24)
    book.close()
    return out.getvalue()


def _write_row(ws: Any, r: int, row: Sequence[Any]) -> None:
    for col, value in enumerate(row):
        if value is None:
            continue
        if isinstance(value, date):  # a datetime too: as the CSV has it
            value = value.isoformat()
        if isinstance(value, bool) or not isinstance(value, int | float):
            ws.write_string(r, col, str(value))
        else:
            ws.write_number(r, col, value)
