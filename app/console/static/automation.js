// Automation rules and macros: the rules in their running order (move up or down, switch on
// or off, edit, delete, a dry run) and the macros (the caller's own and the shared ones).
// A trigger, each condition and each action is a type picked from a select and, where it
// needs one, a value typed in (lists comma-separated); the server checks the body (422).
import { startPage } from "./shell.js";
import { request, savedToken } from "./api.js";

const TRIGGERS = {
  "conversation.created": N_("A conversation is created"),
  "message.created": N_("The client writes"),
  "conversation.resolved": N_("A conversation is resolved"),
  "contact.changed": N_("The client's category or stage changes"),
  no_reply: N_("No reply for some minutes"),
};
// type -> [label, field, kind]; kind: ints, strs, str, int, bool or none.
const CONDITIONS = {
  channel: [N_("Channel ids are"), "channel_ids", "ints"],
  team: [N_("Team ids are"), "team_ids", "ints"],
  text_contains: [N_("Text contains any of"), "values", "strs"],
  text_matches: [N_("Text matches the pattern"), "pattern", "str"],
  label: [N_("Has any label of"), "names", "strs"],
  contact_category: [N_("Client category is"), "values", "strs"],
  contact_stage: [N_("Client stage is"), "values", "strs"],
  language: [N_("Language (ru or en) is"), "language", "str"],
  business_hours: [N_("Within business hours (true or false)"), "open", "bool"],
};
const ACTIONS = {
  assign_team: [N_("Transfer to team id"), "team_id", "int"],
  assign_operator: [N_("Assign to operator id"), "operator_id", "int"],
  add_label: [N_("Add the label"), "name", "str"],
  send_canned: [N_("Send the canned response id"), "canned_response_id", "int"],
  send_message: [N_("Send the message"), "text", "str"],
  send_webhook: [N_("Send to the webhook id"), "endpoint_id", "int"],
  add_note: [N_("Add a note"), "text", "str"],
  set_priority: [N_("Set the priority to"), "priority", "int"],
  set_category: [N_("Set the client's category to"), "category", "str"],
  set_stage: [N_("Set the client's stage to"), "stage", "str"],
  resolve: [N_("Resolve"), null, "none"],
  snooze: [N_("Snooze for minutes"), "minutes", "int"],
  handoff: [N_("Hand a bot's conversation to the people"), null, "none"],
};
const $ = (id) => document.getElementById(id);
let editing = null; // the rule being edited (null: a new one)

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function options(select, table, chosen) {
  select.replaceChildren(...Object.entries(table).map(([type, spec]) => {
    const o = el("option", _(Array.isArray(spec) ? spec[0] : spec), { value: type });
    if (type === chosen) o.selected = true;
    return o;
  }));
}

function toText(kind, value) {
  if (value === undefined || value === null) return "";
  return Array.isArray(value) ? value.join(", ") : String(value);
}

function fromText(kind, text) {
  const list = () => text.split(",").map((s) => s.trim()).filter(Boolean);
  if (kind === "ints") return list().map(Number);
  if (kind === "strs") return list();
  if (kind === "int") return Number(text);
  if (kind === "bool") return text.trim() !== "false";
  return text;
}

// A row: a type select, a value box and a remove button; read back with readRows().
function addRow(box, table, item = {}) {
  const row = el("div", null, { class: "auto-row" });
  const select = el("select", null, { "aria-label": _("Type") });
  options(select, table, item.type);
  const value = el("input", null, { "aria-label": _("Value") });
  const sync = () => { value.hidden = table[select.value][2] === "none"; };
  const spec = table[select.value];
  value.value = item.type ? toText(spec[2], item[spec[1]]) : "";
  select.addEventListener("change", sync);
  sync();
  const remove = el("button", "×", { type: "button", class: "btn btn-ghost", "aria-label": _("Remove") });
  remove.addEventListener("click", () => row.remove());
  row.append(select, value, remove);
  box.append(row);
}

function readRows(box, table) {
  return [...box.children].map((row) => {
    const [select, value] = row.children;
    const [, field, kind] = table[select.value];
    const out = { type: select.value };
    if (field) out[field] = fromText(kind, value.value);
    return out;
  });
}

function describeTrigger(t) {
  const name = _(TRIGGERS[t.type] || t.type);
  return t.type === "no_reply" ? `${name} (${t.minutes})` : name;
}

async function loadRules() {
  const rules = await request("GET", "/api/v1/automation-rules");
  const list = $("rules");
  list.replaceChildren(...rules.map((r, i) => {
    const li = el("li", null, { "data-rule": r.id });
    li.append(el("span", r.name, { class: "name" }), el("span", describeTrigger(r.trigger), { class: "muted" }));
    const active = el("input", null, { type: "checkbox", "aria-label": _("Active") });
    active.checked = r.active;
    active.addEventListener("change", () => save(() => request("PATCH", `/api/v1/automation-rules/${r.id}`, { active: active.checked })));
    const move = (delta) => {
      const ids = rules.map((x) => x.id);
      const j = i + delta;
      if (j < 0 || j >= ids.length) return;
      [ids[i], ids[j]] = [ids[j], ids[i]];
      save(() => request("PUT", "/api/v1/automation-rules/order", { rule_ids: ids }));
    };
    const up = el("button", "↑", { type: "button", class: "btn btn-ghost", "aria-label": _("Move up") });
    up.addEventListener("click", () => move(-1));
    const down = el("button", "↓", { type: "button", class: "btn btn-ghost", "aria-label": _("Move down") });
    down.addEventListener("click", () => move(1));
    const edit = el("button", _("Edit"), { type: "button", class: "btn" });
    edit.addEventListener("click", () => openForm(r));
    const del = el("button", _("Delete"), { type: "button", class: "btn btn-ghost" });
    del.addEventListener("click", () => save(() => request("DELETE", `/api/v1/automation-rules/${r.id}`)));
    li.append(active, up, down, edit, del);
    return li;
  }));
  if (!rules.length) list.append(el("li", _("No rules yet."), { class: "muted" }));
}

function openForm(rule) {
  editing = rule;
  $("rule-form").hidden = false;
  $("rule-name").value = rule ? rule.name : "";
  $("rule-active").checked = rule ? rule.active : true;
  options($("rule-trigger"), TRIGGERS, rule ? rule.trigger.type : "message.created");
  $("rule-minutes").value = rule && rule.trigger.minutes ? rule.trigger.minutes : 15;
  syncTrigger();
  $("rule-conditions").replaceChildren();
  $("rule-actions").replaceChildren();
  (rule ? rule.conditions : []).forEach((c) => addRow($("rule-conditions"), CONDITIONS, c));
  (rule ? rule.actions : [{ type: "add_note" }]).forEach((a) => addRow($("rule-actions"), ACTIONS, a));
  $("dry").hidden = !rule;
  $("dry-result").textContent = "";
  $("rule-name").focus();
}

function syncTrigger() {
  const minutes = $("rule-trigger").value === "no_reply";
  $("rule-minutes").hidden = !minutes;
  $("rule-minutes-label").hidden = !minutes;
}

async function save(call) {
  $("error").textContent = "";
  try {
    await call();
    await Promise.all([loadRules(), loadMacros()]);
    return true;
  } catch (ex) {
    $("error").textContent = ex.message || String(ex);
    return false;
  }
}

async function submitRule(e) {
  e.preventDefault();
  const trigger = { type: $("rule-trigger").value };
  if (trigger.type === "no_reply") trigger.minutes = Number($("rule-minutes").value);
  const body = {
    name: $("rule-name").value,
    active: $("rule-active").checked,
    trigger,
    conditions: readRows($("rule-conditions"), CONDITIONS),
    actions: readRows($("rule-actions"), ACTIONS),
  };
  const ok = await save(() => editing
    ? request("PATCH", `/api/v1/automation-rules/${editing.id}`, body)
    : request("POST", "/api/v1/automation-rules", body));
  if (ok) $("rule-form").hidden = true;
}

async function dryRun() {
  const sample = { type: editing.trigger.type, conversation_id: Number($("dry-conversation").value) };
  if ($("dry-text").value) sample.text = $("dry-text").value;
  try {
    const r = await request("POST", `/api/v1/automation-rules/${editing.id}/dry-run`, sample);
    const lines = r.conditions.map((c) => `${c.matched ? "✓" : "✗"} ${_(CONDITIONS[c.condition.type][0])}`);
    lines.push(r.would_run
      ? _("Would run: {actions}", { actions: r.actions.map((a) => _(ACTIONS[a.type][0])).join(", ") })
      : _("Would not run."));
    $("dry-result").textContent = lines.join("\n");
  } catch (ex) {
    $("dry-result").textContent = ex.message || String(ex);
  }
}

async function loadMacros() {
  const macros = await request("GET", "/api/v1/macros");
  $("macros").replaceChildren(...macros.map((m) => {
    const li = el("li", null, { "data-macro": m.id });
    li.append(el("span", m.name, { class: "name" }),
      el("span", m.shared ? _("shared") : _("mine"), { class: "muted" }),
      el("span", m.actions.map((a) => _(ACTIONS[a.type][0])).join(", ")));
    const del = el("button", _("Delete"), { type: "button", class: "btn btn-ghost" });
    del.addEventListener("click", () => save(() => request("DELETE", `/api/v1/macros/${m.id}`)));
    li.append(del);
    return li;
  }));
  if (!macros.length) $("macros").append(el("li", _("No macros yet."), { class: "muted" }));
}

async function submitMacro(e) {
  e.preventDefault();
  const body = {
    name: $("macro-name").value,
    shared: $("macro-shared").checked,
    actions: readRows($("macro-actions"), ACTIONS),
  };
  if (await save(() => request("POST", "/api/v1/macros", body))) {
    $("macro-form").reset();
    $("macro-actions").replaceChildren();
    addRow($("macro-actions"), ACTIONS);
  }
}

async function start() {
  if (!savedToken()) { $("error").textContent = _("Sign in on the inbox page first."); return; }
  $("rule-new").addEventListener("click", () => openForm(null));
  $("rule-cancel").addEventListener("click", () => { $("rule-form").hidden = true; });
  $("rule-trigger").addEventListener("change", syncTrigger);
  $("condition-add").addEventListener("click", () => addRow($("rule-conditions"), CONDITIONS));
  $("rule-action-add").addEventListener("click", () => addRow($("rule-actions"), ACTIONS));
  $("macro-action-add").addEventListener("click", () => addRow($("macro-actions"), ACTIONS));
  $("rule-form").addEventListener("submit", submitRule);
  $("macro-form").addEventListener("submit", submitMacro);
  $("dry-run").addEventListener("click", dryRun);
  addRow($("macro-actions"), ACTIONS);
  const rules = loadRules().catch(() => {
    // An operator has no rules page: only their macros.
    $("rules-title").parentElement.hidden = true;
  });
  await Promise.all([rules, loadMacros().catch((ex) => { $("error").textContent = ex.message; })]);
  document.body.dataset.ready = "1";
}

await startPage(start);
