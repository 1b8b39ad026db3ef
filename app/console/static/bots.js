// Agent bots (admins), on the webhooks page: a new bot's access token and signing secret
// shown once, its channels, on/off (off hands its conversations to the people), a new token,
// delete. The API is /api/v1/agent-bots (app/bots).
import { request } from "./api.js";
import { textEl as el, button } from "./dom.js";

const L = {
  name: N_("Bot name"),
  url: N_("Bot URL"),
  channels: N_("Channel ids"),
  active: N_("Bot active"),
  token: N_("New token"),
  remove: N_("Delete bot"),
  confirm: N_("Delete this bot? Its conversations go to the people."),
};
const $ = (id) => document.getElementById(id);
const t = (k) => _(L[k]);

function showSecrets(token, secret) {
  $("bot-token").textContent = token;
  $("bot-secret").textContent = secret || "";
  $("bot-secret-box").hidden = false;
}

function ids(text) {
  return String(text || "").split(",").map((s) => s.trim()).filter(Boolean).map(Number);
}

export async function loadBots(guarded) {
  const bots = await request("GET", "/api/v1/agent-bots");
  const tr0 = el("tr");
  [t("name"), t("url"), t("channels"), t("active"), "", ""].forEach((n) => tr0.append(el("th", n)));
  const thead = el("thead");
  thead.append(tr0);
  const body = el("tbody");
  $("bots").replaceChildren(thead, body);
  bots.forEach((b) => {
    const tr = el("tr");
    tr.dataset.id = b.id;
    tr.append(el("td", b.name), el("td", b.url), el("td", b.channel_ids.join(", ")));
    const toggle = el("input");
    toggle.type = "checkbox";
    toggle.checked = b.is_active;
    toggle.setAttribute("aria-label", t("active"));
    toggle.addEventListener("change", () => guarded(async () => {
      await request("PATCH", `/api/v1/agent-bots/${b.id}`, { is_active: toggle.checked });
      await loadBots(guarded);
    }));
    const cell = el("td");
    cell.append(toggle);
    tr.append(cell);
    [
      button(t("token"), () => guarded(async () => {
        showSecrets((await request("POST", `/api/v1/agent-bots/${b.id}/rotate-token`)).access_token);
      })),
      button(t("remove"), () => guarded(async () => {
        if (!window.confirm(t("confirm"))) return;
        await request("DELETE", `/api/v1/agent-bots/${b.id}`);
        await loadBots(guarded);
      })),
    ].forEach((x) => { const td = el("td"); td.append(x); tr.append(td); });
    body.append(tr);
  });
  document.body.dataset.bots = String(bots.length);
}

export function startBots(guarded) {
  $("bot-create").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = new FormData($("bot-create"));
    guarded(async () => {
      const made = await request("POST", "/api/v1/agent-bots", {
        name: form.get("name"),
        url: form.get("url"),
        channel_ids: ids(form.get("channels")),
      });
      showSecrets(made.access_token, made.secret);
      $("bot-create").reset();
      await loadBots(guarded);
    });
  });
  return guarded(() => loadBots(guarded));
}
