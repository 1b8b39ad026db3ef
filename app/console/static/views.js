// The conversation list's controls: counts on the tabs (GET /conversations/counts), the
// sort (last activity or the longest wait), filters by channel, team, assignee and status,
// and the operator's saved views (/saved-views) as extra tabs. app.js asks viewParams() for
// the list query, passesViewFilter() for live updates and compareConvs() for the order.

import { request } from "./api.js";
import { el } from "./dom.js";

const STORE = "chatcentre.view";
const V = {
  f: JSON.parse(sessionStorage.getItem(STORE) || "{}"), // {channel, team, assignee, status, sort}
  views: [],
  active: null, // the saved view in force (its id)
  counts: null,
  onChange: () => {},
  onCounts: () => {},
  me: () => null,
};
const FIELDS = ["channel", "team", "assignee", "status"];

const $ = (id) => document.getElementById(id);

/** The list query's extra parameters. */
export function viewParams() {
  const p = {};
  for (const k of FIELDS) if (V.f[k]) p[k] = V.f[k];
  if (V.f.sort === "waiting") p.sort = "waiting";
  return p;
}

/** Whether a conversation (a live update) passes the filters. */
export function passesViewFilter(c) {
  const f = V.f;
  if (f.channel && c.channel_id !== Number(f.channel)) return false;
  if (f.team && c.team_id !== Number(f.team)) return false;
  if (f.status && c.status !== f.status) return false;
  if (f.assignee === "me" && c.assignee_id !== V.me()) return false;
  if (f.assignee === "none" && c.assignee_id !== null) return false;
  if (f.assignee && !["me", "none"].includes(f.assignee) && c.assignee_id !== Number(f.assignee))
    return false;
  return true;
}

/** The list's order, as the server's: the latest activity first, or the longest wait. */
export function compareConvs(a, b) {
  if (V.f.sort === "waiting") {
    const ta = a.last_inbound_at ? Date.parse(a.last_inbound_at) : Infinity;
    const tb = b.last_inbound_at ? Date.parse(b.last_inbound_at) : Infinity;
    return ta - tb || a.id - b.id;
  }
  return b.last_activity_at.localeCompare(a.last_activity_at) || b.id - a.id;
}

function save() {
  sessionStorage.setItem(STORE, JSON.stringify(V.f));
}

function option(value, text) {
  return el("option", { value, text });
}

function select(id, labelText, options) {
  return el(
    "label",
    { class: "view-field" },
    el("span", { class: "view-label", text: labelText }),
    el("select", { id, "data-field": id.replace("view-", "") }, ...options)
  );
}

async function renderControls(operators) {
  const [channels, teams] = await Promise.all([
    request("GET", "/api/v1/channels").catch(() => []),
    request("GET", "/api/v1/teams").catch(() => []),
  ]);
  const box = $("view-controls");
  box.replaceChildren(
    select("view-sort", _("Sort"), [
      option("activity", _("Last activity")),
      option("waiting", _("Longest waiting")),
    ]),
    select("view-channel", _("Channel"), [
      option("", _("All channels")),
      ...channels.map((c) => option(String(c.id), c.name)),
    ]),
    select("view-team", _("Team"), [
      option("", _("All teams")),
      ...teams.map((t) => option(String(t.id), t.name)),
    ]),
    select("view-assignee", _("Assignee"), [
      option("", _("Anyone")),
      option("me", _("Me")),
      option("none", _("Nobody (queue)")),
      ...operators.filter((o) => o.id !== V.me()).map((o) => option(String(o.id), o.name)),
    ]),
    select("view-status", _("Status"), [
      option("", _("Any status")),
      option("open", _("open")),
      option("pending", _("pending")),
      option("snoozed", _("snoozed")),
      option("bot", _("with the bot")),
      option("resolved", _("resolved")),
    ]),
    el(
      "div",
      { class: "view-actions" },
      el("button", { type: "button", class: "btn btn-ghost", id: "view-save", text: _("Save as view…"), onclick: saveView }),
      el("button", { type: "button", class: "btn btn-ghost", id: "view-delete", hidden: true, text: _("Delete view"), onclick: deleteView })
    )
  );
  for (const s of box.querySelectorAll("select")) {
    s.value = s.dataset.field === "sort" ? V.f.sort || "activity" : V.f[s.dataset.field] || "";
    if (s.value === "" && V.f[s.dataset.field]) V.f[s.dataset.field] = ""; // gone since
    s.addEventListener("change", () => {
      V.f[s.dataset.field] = s.value;
      V.active = null;
      save();
      renderViewTabs();
      V.onChange();
    });
  }
  $("view-toggle").textContent = filterSummary();
}

function filterSummary() {
  const n = FIELDS.filter((k) => V.f[k]).length;
  return n ? ngettext("Filters ({n})", "Filters ({n})", n) : _("Filters");
}

function renderViewTabs() {
  const box = $("view-tabs");
  box.replaceChildren(
    ...V.views.map((v) =>
      el("button", {
        type: "button",
        class: "filter view-tab",
        "data-view": String(v.id),
        "aria-pressed": String(v.id === V.active),
        text: v.name,
        onclick: () => applyView(v),
      })
    )
  );
  box.hidden = V.views.length === 0;
  const del = $("view-delete");
  if (del) del.hidden = V.active === null;
  const toggle = $("view-toggle");
  if (toggle) toggle.textContent = filterSummary();
}

function applyView(v) {
  V.f = { sort: "activity" };
  for (const [k, val] of Object.entries(v.filters)) if (val !== null) V.f[k] = String(val);
  V.active = v.id;
  save();
  for (const s of $("view-controls").querySelectorAll("select"))
    s.value = s.dataset.field === "sort" ? V.f.sort : V.f[s.dataset.field] || "";
  renderViewTabs();
  V.onChange("all"); // a view is the whole filter: the "All" tab under it
}

async function saveView() {
  const name = prompt(_("Name of the view"));
  if (!name || !name.trim()) return;
  const filters = { sort: V.f.sort || "activity" };
  for (const k of FIELDS) if (V.f[k]) filters[k] = k === "channel" || k === "team" ? Number(V.f[k]) : V.f[k];
  try {
    const v = await request("POST", "/api/v1/saved-views", { name: name.trim(), filters });
    V.views.push(v);
    V.active = v.id;
    renderViewTabs();
  } catch (ex) {
    V.onError(ex);
  }
}

async function deleteView() {
  if (V.active === null) return;
  try {
    await request("DELETE", `/api/v1/saved-views/${V.active}`);
  } catch (ex) {
    V.onError(ex);
    return;
  }
  V.views = V.views.filter((v) => v.id !== V.active);
  V.active = null;
  renderViewTabs();
}

/** Clears the saved-view marker when a fixed tab is chosen. */
export function leaveView() {
  if (V.active === null) return;
  V.active = null;
  renderViewTabs();
}

// ------------------------------------------------------------------ counts

let countTimer = 0;
/** Re-reads the tab counts soon (many live events make one request). */
export function scheduleCounts() {
  clearTimeout(countTimer);
  countTimer = setTimeout(() => refreshCounts(V.label?.()), 600);
}

export async function refreshCounts(label) {
  if (!navigator.onLine) return; // the catch-up after reconnecting re-reads them
  const p = {};
  for (const k of ["channel", "team"]) if (V.f[k]) p[k] = V.f[k];
  if (label) p.label = label;
  try {
    V.counts = await request("GET", "/api/v1/conversations/counts?" + new URLSearchParams(p));
  } catch {
    return; // offline: the old counts stay
  }
  for (const b of document.querySelectorAll(".filters .filter[data-filter]")) {
    const n = V.counts[b.dataset.filter];
    // Beside the button, not in it: its name and text stay "Queue"; the count is its title.
    let badge = b.nextElementSibling?.classList.contains("tab-count") ? b.nextElementSibling : null;
    if (!badge) b.after((badge = el("span", { class: "tab-count", "data-for": b.dataset.filter, "aria-hidden": "true" })));
    badge.textContent = n === undefined ? "" : I18N().number(n);
    if (n !== undefined) b.title = ngettext("{n} conversation", "{n} conversations", n);
  }
  V.onCounts(V.counts);
}

const I18N = () => window.i18n;

/** After login: the controls, the saved views, the counts. */
export async function setupViews({ operators, me, onChange, onCounts, onError, label }) {
  V.me = me;
  V.onChange = onChange;
  V.onCounts = onCounts;
  V.onError = onError;
  V.label = label;
  if (!$("view-controls")) {
    const filters = document.querySelector(".filters");
    const details = el(
      "details",
      { class: "view-box" },
      el("summary", { id: "view-toggle", text: _("Filters") }),
      el("div", { id: "view-controls", class: "view-controls" })
    );
    filters.after(el("div", { id: "view-tabs", class: "filters view-tabs", role: "group", "aria-label": _("Saved views"), hidden: true }), details);
  }
  await renderControls(operators);
  V.views = await request("GET", "/api/v1/saved-views").catch(() => []);
  renderViewTabs();
}

// Conversations and messages change the counts: re-read them (debounced).
document.addEventListener("chatcentre:event", (e) => {
  const type = e.detail.ev.type || "";
  if (type.startsWith("conversation.") || type === "message.created") scheduleCounts();
});
