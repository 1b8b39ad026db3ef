// Keyboard shortcuts for the day's moves. They act through the page's own controls (the
// list's buttons, the composer's tabs, the status button), so app.js needs no hooks, and
// they stay quiet while the operator types in a field. `?` lists them.

const $ = (id) => document.getElementById(id);

// [keys shown, what it does (msgid), handler]; `key` values as KeyboardEvent.key gives them.
const SHORTCUTS = [
  [["j", "Alt+↓"], N_("Next conversation"), () => step(1)],
  [["k", "Alt+↑"], N_("Previous conversation"), () => step(-1)],
  [["r"], N_("Reply"), () => composerTab("reply")],
  [["n"], N_("Private note"), () => composerTab("note")],
  [["e"], N_("Resolve or reopen"), () => clickIfShown("status-btn")],
  [["/"], N_("Search"), () => $("search-q")?.focus()],
  [["?"], N_("Show the keyboard shortcuts"), () => toggleHelp()],
  [["Esc"], N_("Close this list, the search or the contact card"), () => closeAll()],
];
const BY_KEY = {
  j: 0,
  ArrowDown: 0,
  k: 1,
  ArrowUp: 1,
  r: 2,
  n: 3,
  e: 4,
  "/": 5,
  "?": 6,
  Escape: 7,
};

function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

function shown(el) {
  return el && !el.hidden && el.offsetParent !== null;
}

function step(delta) {
  const items = [...document.querySelectorAll("#conv-list .conv")];
  if (!items.length) return;
  const at = items.findIndex((b) => b.getAttribute("aria-current") === "true");
  const next = items[at < 0 ? (delta > 0 ? 0 : items.length - 1) : at + delta];
  if (next) {
    next.click();
    next.scrollIntoView({ block: "nearest" });
  }
}

function composerTab(mode) {
  if (!shown($("composer"))) return;
  document.querySelector(`.composer-tabs .tab[data-mode="${mode}"]`)?.click();
  $("composer-text")?.focus();
}

function clickIfShown(id) {
  const el = $(id);
  if (shown(el)) el.click();
}

function closeAll() {
  const help = $("shortcuts-help");
  if (help?.open) return help.close();
  const results = $("search-results");
  if (results && !results.hidden) return (results.hidden = true);
  if (document.querySelector(".panes")?.dataset.contact === "open") $("contact-close")?.click();
}

function helpDialog() {
  let dialog = $("shortcuts-help");
  if (dialog) return dialog;
  dialog = document.createElement("dialog");
  dialog.id = "shortcuts-help";
  dialog.className = "shortcuts";
  dialog.setAttribute("aria-labelledby", "shortcuts-title");
  const title = document.createElement("h2");
  title.id = "shortcuts-title";
  title.textContent = _("Keyboard shortcuts");
  const list = document.createElement("dl");
  for (const [keys, what] of SHORTCUTS) {
    const dt = document.createElement("dt");
    keys.forEach((k, i) => {
      if (i) dt.append(` ${_("or")} `);
      const kbd = document.createElement("kbd");
      kbd.textContent = k;
      dt.append(kbd);
    });
    const dd = document.createElement("dd");
    dd.textContent = _(what);
    list.append(dt, dd);
  }
  const close = document.createElement("button");
  close.type = "button";
  close.className = "btn";
  close.textContent = _("Close");
  close.addEventListener("click", () => dialog.close());
  dialog.append(title, list, close);
  document.body.append(dialog);
  return dialog;
}

function toggleHelp() {
  const dialog = helpDialog();
  if (dialog.open) dialog.close();
  else dialog.showModal();
}

document.addEventListener("keydown", (e) => {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.isComposing) return;
  if (!shown($("inbox-view")) && e.key !== "Escape") return; // not on the login page
  const arrows = e.key === "ArrowDown" || e.key === "ArrowUp";
  if (arrows !== e.altKey) return; // arrows only with Alt (plain ones scroll and move focus)
  if (e.key !== "Escape" && typing(e.target)) return;
  const index = BY_KEY[e.key];
  if (index === undefined) return;
  e.preventDefault();
  SHORTCUTS[index][2]();
});
