// The head of sales' reports: one page per report (#quotas, #plan, #seven, #base, #kpis),
// a chart (Chart.js, vendored: chart.umd.min.js) and a table from the report's JSON, the
// filters as query parameters, and the same report as CSV or XLSX. Labels in English and
// Russian (i18n.js; ?lang=ru or the selector, remembered in localStorage).
import { startPage } from "./shell.js";
import { request, savedToken } from "./api.js";
import { textEl as el } from "./dom.js";

// The labels, by key; translated by the message catalogue (app/console/locales).
const L = {
  quotas: N_("Quotas"),
  plan: N_("Weekly plan"),
  seven: N_("Rule of seven"),
  base: N_("Base health"),
  kpis: N_("Manager KPIs"),
  back: N_("Inbox"),
  from: N_("From"),
  to: N_("To"),
  week: N_("Week"),
  team: N_("Team"),
  manager: N_("Manager"),
  channel: N_("Channel"),
  timezone: N_("Time zone"),
  bucket: N_("Buckets"),
  day: N_("day"),
  week_b: N_("week"),
  month: N_("month"),
  apply: N_("Apply"),
  all: N_("All"),
  dropped: N_("Leads dropped before the seventh touch"),
  signin: N_("Sign in on the inbox page first."),
  owed: N_("Owed"),
  met: N_("Met"),
  fulfilment: N_("Fulfilment"),
  clients: N_("Clients"),
  behind: N_("Behind"),
  needed: N_("Contacts needed"),
  touched: N_("Contacts made"),
  wanted: N_("Deals wanted"),
  won: N_("Deals won"),
  shortfall: N_("Shortfall"),
  reference: N_("Reference"),
  actual: N_("Actual"),
  known: N_("Conversions"),
  before7: N_("Before the 7th"),
  live: N_("Live base"),
  band: N_("Band"),
  overdue: N_("Overdue"),
  review: N_("Review due"),
  min: N_("Min"),
  max: N_("Max"),
  calls: N_("Calls"),
  meetings: N_("Meetings"),
  deals: N_("Deals"),
  avg: N_("Average deal"),
  conversions: N_("Conversions"),
  days: N_("Days to deal"),
  inbound: N_("New inbound"),
  prospected: N_("New prospected"),
  name: N_("Manager"),
  touches: N_("Touches"),
  lead: N_("Lead"),
  reason: N_("Reason"),
  droppedAt: N_("Dropped"),
};
const REPORTS = { quotas: "quotas", plan: "weekly-plan", seven: "rule-of-seven", base: "base-health", kpis: "kpis" };
const $ = (id) => document.getElementById(id);
let chart = null;
const names = new Map(); // operator id -> name, for lists that carry ids
const t = (k) => (L[k] ? _(L[k]) : k);
const pct = (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 1000) / 10}%`);
const num = (v) => (v === null || v === undefined ? "–" : String(Math.round(v * 100) / 100));

function current() {
  const key = location.hash.slice(1);
  return REPORTS[key] ? key : "quotas";
}

function params() {
  const out = new URLSearchParams();
  for (const [k, v] of new FormData($("filters"))) {
    if (!v) continue;
    out.set(k, k === "from" || k === "to" ? `${v}T00:00:00` : v);
  }
  return out;
}

function table(target, head, rows, flag = () => false) {
  const tbl = $(target);
  tbl.replaceChildren();
  const tr = el("tr");
  head.forEach((h) => tr.append(el("th", h)));
  tbl.append(el("thead"));
  tbl.firstChild.append(tr);
  const body = el("tbody");
  rows.forEach((r) => {
    const row = el("tr", undefined, flag(r) ? "flag" : "");
    r.cells.forEach((c) => row.append(el("td", String(c))));
    body.append(row);
  });
  tbl.append(body);
}

function draw(type, labels, datasets) {
  if (chart) chart.destroy();
  chart = new window.Chart($("chart"), {
    type,
    data: { labels, datasets },
    options: { responsive: true, maintainAspectRatio: false, animation: false },
  });
}

const total = (c) => c.calls + c.meetings + c.messages;

const VIEWS = {
  quotas(d) {
    draw("bar", d.managers.map((m) => m.name), [
      { label: t("owed"), data: d.managers.map((m) => total(m.owed)), backgroundColor: "#cbd5e1" },
      { label: t("met"), data: d.managers.map((m) => total(m.met)), backgroundColor: "#4f46e5" },
    ]);
    table("table", [t("name"), t("clients"), t("behind"), t("owed"), t("met"), t("fulfilment")],
      d.managers.map((m) => ({ m, cells: [m.name, m.clients, m.clients_behind, total(m.owed), total(m.met), pct(m.fulfilment)] })),
      (r) => r.m.clients_behind > 0);
  },
  plan(d) {
    draw("bar", d.managers.map((m) => m.name), [
      { label: t("needed"), data: d.managers.map((m) => m.contacts_needed ?? 0), backgroundColor: "#cbd5e1" },
      { label: t("touched"), data: d.managers.map((m) => m.contacts_touched), backgroundColor: "#16a34a" },
    ]);
    table("table", [t("name"), t("wanted"), t("needed"), t("touched"), t("touches"), t("won"), t("shortfall")],
      d.managers.map((m) => ({ m, cells: [m.name, m.deals_wanted ?? "–", m.contacts_needed ?? "–", m.contacts_touched, m.touches, m.deals_won, m.shortfall ?? "–"] })),
      (r) => r.m.shortfall > 0);
  },
  seven(d) {
    const labels = d.reference.map((p) => p.bucket);
    draw("bar", labels, [
      { label: t("actual"), data: d.overall.buckets.map((b) => b.share ?? 0), backgroundColor: "#4f46e5" },
      { label: t("reference"), type: "line", data: d.reference.map((p) => p.share), borderColor: "#dc2626", spanGaps: true },
    ]);
    const lines = [["all", d.overall], ...d.by_manager.map((m) => [m.name, m]), ...d.by_channel.map((c) => [`${t("channel")}: ${c.channel}`, c])];
    table("table", [t("name"), t("known"), ...labels, t("before7")],
      lines.map(([n, l]) => ({ cells: [n === "all" ? t("all") : n, l.known, ...l.buckets.map((b) => pct(b.share)), pct(l.before_seventh_share)] })));
  },
  base(d) {
    draw("bar", d.managers.map((m) => m.name), [
      { label: t("live"), data: d.managers.map((m) => m.live_base), backgroundColor: "#4f46e5" },
      { label: t("min"), type: "line", data: d.managers.map(() => d.base_min), borderColor: "#f59e0b" },
      { label: t("max"), type: "line", data: d.managers.map(() => d.base_max), borderColor: "#dc2626" },
    ]);
    table("table", [t("name"), t("live"), t("band"), t("overdue"), t("review")],
      d.managers.map((m) => ({ m, cells: [m.name, m.live_base, m.band, m.overdue, m.review_due] })),
      (r) => r.m.band !== "within");
  },
  kpis(d) {
    const periods = [...new Set(d.managers.flatMap((m) => m.series.map((p) => p.period)))].sort();
    draw("line", periods, d.managers.map((m) => ({
      label: m.name,
      data: periods.map((p) => { const x = m.series.find((s) => s.period === p); return x ? x.calls + x.meetings : 0; }),
    })));
    table("table", [t("name"), t("calls"), t("meetings"), t("deals"), t("avg"), t("conversions"), t("days"), t("inbound"), t("prospected")],
      d.managers.map((m) => ({ cells: [m.name, m.calls, m.meetings, m.deals,
        m.amounts.filter((a) => a.average).map((a) => `${a.average} ${a.currency || ""}`.trim()).join("; ") || "–",
        m.conversions, num(m.days_to_deal_median), m.new_inbound, m.new_prospected] })));
  },
};

async function dropped() {
  const d = await request("GET", `/api/v1/analytics/dropped-leads?${params()}`);
  $("dropped").hidden = false;
  table("dropped-table", [t("lead"), t("manager"), t("touches"), t("reason"), t("droppedAt")],
    d.items.map((i) => ({ cells: [i.name || `#${i.contact_id}`, names.get(i.owner_id) || i.owner_id || "–", i.touches, i.reason, i.dropped_at.slice(0, 10)] })));
}

async function show() {
  const key = current();
  $("tabs").replaceChildren(...Object.keys(REPORTS).map((k) => {
    const a = el("a", t(k));
    a.href = `#${k}`;
    if (k === key) a.setAttribute("aria-current", "page");
    return a;
  }));
  $("title").textContent = t(key);
  $("error").textContent = "";
  $("dropped").hidden = true;
  try {
    const data = await request("GET", `/api/v1/analytics/${REPORTS[key]}?${params()}`);
    VIEWS[key](data);
    if (key === "seven" || location.hash === "#dropped") await dropped();
    document.body.dataset.ready = key;
  } catch (ex) {
    $("error").textContent = ex.message || String(ex);
  }
}

async function download(fmt) {
  const key = current();
  const res = await fetch(`/api/v1/analytics/export/${REPORTS[key]}.${fmt}?${params()}`, {
    headers: { Authorization: `Bearer ${savedToken()}` },
  });
  if (!res.ok) { $("error").textContent = `${res.status}`; return; }
  const a = el("a");
  a.href = URL.createObjectURL(await res.blob());
  a.download = `${REPORTS[key]}.${fmt}`;
  document.body.append(a);
  a.click();
  a.remove();
}

async function fillSelects() {
  const [ops, teams] = await Promise.all([request("GET", "/api/v1/operators"), request("GET", "/api/v1/teams")]);
  const fill = (name, items) => {
    const sel = document.querySelector(`[name=${name}]`);
    sel.replaceChildren(el("option", t("all")), ...items.map((i) => { const o = el("option", i.name); o.value = i.id; return o; }));
    sel.firstChild.value = "";
  };
  ops.forEach((o) => names.set(o.id, o.name));
  fill("operator_id", ops);
  fill("team_id", teams);
}

async function start() {
  if (!savedToken()) { $("error").textContent = t("signin"); return; }
  const q = new URLSearchParams(location.search);
  for (const [k, v] of q) { const f = document.querySelector(`#filters [name=${k}]`); if (f) f.value = v; }
  try { await fillSelects(); } catch { /* an API key without operators:read still sees its reports */ }
  for (const [k, v] of q) { const f = document.querySelector(`#filters [name=${k}]`); if (f) f.value = v; }
  $("filters").addEventListener("submit", (e) => { e.preventDefault(); show(); });
  $("csv").addEventListener("click", () => download("csv"));
  $("xlsx").addEventListener("click", () => download("xlsx"));
  window.addEventListener("hashchange", show);
  await show();
}

await startPage(start);
