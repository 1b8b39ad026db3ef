// Snooze in the conversation's header: until a chosen time (in an hour, tomorrow at 9:00,
// next Monday at 9:00, or a date and time), and back. POST /conversations/{id}/status with
// status "snoozed" and snoozed_until; the server's routing timers open it again when due.

import { request } from "./api.js";
import { el } from "./dom.js";

/** The presets' times, from `now` (local time). */
export function presets(now = new Date()) {
  const hour = new Date(now.getTime() + 3600 * 1000);
  const tomorrow = new Date(now);
  tomorrow.setDate(now.getDate() + 1);
  tomorrow.setHours(9, 0, 0, 0);
  const week = new Date(now);
  week.setDate(now.getDate() + (((8 - now.getDay()) % 7) || 7)); // next Monday
  week.setHours(9, 0, 0, 0);
  return [
    ["hour", _("In 1 hour"), hour],
    ["tomorrow", _("Tomorrow at 9:00"), tomorrow],
    ["week", _("Next week (Monday 9:00)"), week],
  ];
}

async function setStatus(c, body, onChanged, onError) {
  try {
    onChanged(await request("POST", `/api/v1/conversations/${c.id}/status`, body));
  } catch (ex) {
    onError(ex);
  }
}

function closeMenu() {
  document.getElementById("snooze-menu")?.remove();
  document.getElementById("snooze-btn")?.setAttribute("aria-expanded", "false");
}

function openMenu(c, onChanged, onError) {
  closeMenu();
  const pick = (until) => {
    closeMenu();
    setStatus(c, { status: "snoozed", snoozed_until: until.toISOString() }, onChanged, onError);
  };
  const custom = el("input", { type: "datetime-local", id: "snooze-at", "aria-label": _("Snooze until") });
  const menu = el(
    "div",
    { id: "snooze-menu", class: "snooze-menu", role: "menu" },
    ...presets().map(([key, text, at]) =>
      el("button", { type: "button", role: "menuitem", class: "snooze-option", "data-preset": key, onclick: () => pick(at) },
        el("span", { text }), el("span", { class: "muted", text: window.i18n.dateTime(at) }))
    ),
    el(
      "div",
      { class: "snooze-custom" },
      custom,
      el("button", {
        type: "button",
        class: "btn",
        text: _("Snooze"),
        onclick: () => {
          const at = custom.value ? new Date(custom.value) : null;
          if (!at || at <= new Date()) {
            onError(new Error(_("Choose a time in the future.")));
            return;
          }
          pick(at);
        },
      })
    )
  );
  document.getElementById("snooze-btn").after(menu);
  document.getElementById("snooze-btn").setAttribute("aria-expanded", "true");
  menu.querySelector("button").focus();
  menu.addEventListener("keydown", (e) => e.key === "Escape" && (closeMenu(), document.getElementById("snooze-btn").focus()));
}

/** The snooze button (or "Unsnooze" and the time) for the open conversation. */
export function renderSnooze(c, { onChanged, onError }) {
  const actions = document.querySelector(".thread-actions");
  let btn = document.getElementById("snooze-btn");
  if (!btn) {
    btn = el("button", { type: "button", id: "snooze-btn", class: "btn", "aria-haspopup": "menu", "aria-expanded": "false" });
    const wrap = el("span", { class: "snooze-wrap" }, btn);
    actions.insertBefore(wrap, document.getElementById("status-btn"));
  }
  // A re-render of the same conversation (a live update) keeps an open menu.
  if (btn.dataset.conv !== String(c.id) || c.status !== btn.dataset.status) closeMenu();
  btn.dataset.conv = String(c.id);
  btn.dataset.status = c.status;
  const snoozed = c.status === "snoozed";
  btn.textContent = snoozed ? _("Unsnooze") : _("Snooze");
  const until = snoozed && c.snoozed_until ? _("Snoozed until {time}", { time: window.i18n.dateTime(new Date(c.snoozed_until)) }) : "";
  let note = document.getElementById("snooze-until");
  if (!note) btn.before((note = el("span", { id: "snooze-until", class: "snooze-until muted" })));
  note.textContent = until;
  btn.hidden = c.status === "resolved";
  btn.onclick = () =>
    snoozed
      ? setStatus(c, { status: "open" }, onChanged, onError)
      : document.getElementById("snooze-menu")
        ? closeMenu()
        : openMenu(c, onChanged, onError);
}
