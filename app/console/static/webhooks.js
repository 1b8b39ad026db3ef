// Outgoing webhooks (admins): the endpoints, a new one's signing secret shown once, the
// events each gets, on/off, a new secret, and each endpoint's deliveries with redelivery.
// An endpoint the senders turned off (failing for a day) shows a notice at the top.
import { startPage } from "./shell.js";
import { request, savedToken } from "./api.js";
import { startBots } from "./bots.js";
import { textEl as el, button } from "./dom.js";

const L = {
  url: N_("URL"),
  events: N_("Events"),
  active: N_("Active"),
  deliveries: N_("Deliveries"),
  rotate: N_("New secret"),
  remove: N_("Delete"),
  event: N_("Event"),
  status: N_("Status"),
  attempts: N_("Attempts"),
  code: N_("Last answer"),
  last: N_("Last attempt"),
  next: N_("Next attempt"),
  redeliver: N_("Redeliver"),
  signin: N_("Sign in on the inbox page first."),
  confirm: N_("Delete this webhook?"),
  disabled: N_("Turned off after failing for a day: %s"),
  pending: N_("pending"),
  delivered: N_("delivered"),
  failed: N_("failed"),
};
const $ = (id) => document.getElementById(id);
const t = (k) => _(L[k]);
const when = (v) => (v ? new Date(v).toLocaleString() : "–");

function head(tbl, names) {
  const tr = el("tr");
  names.forEach((n) => tr.append(el("th", n)));
  const thead = el("thead");
  thead.append(tr);
  tbl.replaceChildren(thead);
  const body = el("tbody");
  tbl.append(body);
  return body;
}

async function guarded(fn) {
  $("error").textContent = "";
  try {
    await fn();
  } catch (e) {
    $("error").textContent = e.message || String(e);
  }
}

function showSecret(secret) {
  $("secret").textContent = secret;
  $("secret-box").hidden = false;
}

async function showDeliveries(hook) {
  const rows = await request("GET", `/api/v1/webhooks/${hook.id}/deliveries`);
  $("deliveries-title").textContent = `${t("deliveries")}: ${hook.url}`;
  const body = head($("deliveries"), ["#", t("event"), t("status"), t("attempts"), t("code"), t("last"), t("next"), ""]);
  rows.forEach((d) => {
    const tr = el("tr", undefined, d.status === "failed" ? "flag" : "");
    tr.dataset.status = d.status;
    [d.id, d.event_type, t(d.status), d.attempts, d.last_status_code ?? (d.last_error || "–"), when(d.last_attempt_at), when(d.next_attempt_at)]
      .forEach((c) => tr.append(el("td", String(c))));
    const cell = el("td");
    cell.append(button(t("redeliver"), () => guarded(async () => {
      await request("POST", `/api/v1/webhooks/${hook.id}/deliveries/${d.id}/redeliver`);
      await showDeliveries(hook);
    })));
    tr.append(cell);
    body.append(tr);
  });
  $("deliveries-box").hidden = false;
}

async function load() {
  const hooks = await request("GET", "/api/v1/webhooks");
  $("notices").replaceChildren(
    ...hooks.filter((h) => h.disabled_reason === "failing")
      .map((h) => el("p", _(L.disabled).replace("%s", h.url), "banner")),
  );
  const body = head($("hooks"), [t("url"), t("events"), t("active"), "", "", ""]);
  hooks.forEach((h) => {
    const tr = el("tr");
    tr.dataset.id = h.id;
    tr.append(el("td", h.url), el("td", h.events.join(", ")));
    const toggle = el("input");
    toggle.type = "checkbox";
    toggle.checked = h.is_active;
    toggle.setAttribute("aria-label", t("active"));
    toggle.addEventListener("change", () => guarded(async () => {
      await request("PATCH", `/api/v1/webhooks/${h.id}`, { is_active: toggle.checked });
      await load();
    }));
    const activeCell = el("td");
    activeCell.append(toggle);
    tr.append(activeCell);
    const actions = [
      button(t("deliveries"), () => guarded(() => showDeliveries(h))),
      button(t("rotate"), () => guarded(async () => {
        showSecret((await request("POST", `/api/v1/webhooks/${h.id}/rotate-secret`)).secret);
      })),
      button(t("remove"), () => guarded(async () => {
        if (!window.confirm(t("confirm"))) return;
        await request("DELETE", `/api/v1/webhooks/${h.id}`);
        $("deliveries-box").hidden = true;
        await load();
      })),
    ];
    actions.forEach((b) => { const td = el("td"); td.append(b); tr.append(td); });
    body.append(tr);
  });
  document.body.dataset.ready = "webhooks";
}

// The events the server offers (GET /api/v1/webhooks/events), not a copy of them.
async function eventBoxes() {
  const events = await request("GET", "/api/v1/webhooks/events");
  events.forEach(({ name }) => {
    const label = el("label");
    const box = el("input");
    box.type = "checkbox";
    box.name = "events";
    box.value = name;
    label.append(box, ` ${name}`);
    $("events").append(label);
  });
}

async function create(e) {
  e.preventDefault();
  const form = new FormData($("create"));
  await guarded(async () => {
    const made = await request("POST", "/api/v1/webhooks", {
      url: form.get("url"),
      description: form.get("description") || "",
      events: form.getAll("events"),
    });
    showSecret(made.secret);
    $("create").reset();
    await load();
  });
}

async function start() {
  if (!savedToken()) { $("error").textContent = t("signin"); return; }
  $("create").addEventListener("submit", create);
  await guarded(async () => {
    await eventBoxes();
    await load();
  });
  await startBots(guarded);
}

await startPage(start);
