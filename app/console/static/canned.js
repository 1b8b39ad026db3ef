// The composer's canned-response picker: typing "/" (at the start or after a space) opens a
// list of the caller's canned responses, filtered by what follows the slash (the code's
// start, or any part of the text); arrows move, Enter or Tab inserts the response rendered
// for the open conversation (its variables filled in by the server), Esc closes.
// The reply box points at the active option (aria-activedescendant): the focus never leaves it.

import { api } from "./api.js";
import { el } from "./dom.js";

const RELOAD_MS = 60000; // responses edited elsewhere show within a minute
const P = { all: [], loadedAt: 0, open: false, items: [], active: 0, seq: 0 };
let box, list, conversationId, onError;

/** The "/word" being typed before the caret: {start, q}, or null. */
function slashToken() {
  const before = box.value.slice(0, box.selectionStart);
  const m = /(^|\s)\/([^\s/]*)$/.exec(before);
  return m ? { start: before.length - m[2].length - 1, q: m[2].toLowerCase() } : null;
}

async function catalogue() {
  if (Date.now() - P.loadedAt > RELOAD_MS) {
    P.all = await api.cannedResponses();
    P.loadedAt = Date.now();
  }
  return P.all;
}

const SCOPES = { personal: N_("mine"), team: N_("team"), shared: N_("shared") };

function render() {
  list.replaceChildren(
    ...P.items.map((c, i) =>
      el(
        "li",
        {
          id: `canned-opt-${i}`,
          class: "canned-option",
          role: "option",
          "aria-selected": String(i === P.active),
          // mousedown, not click: the reply box keeps the focus (no blur closes the list)
          onmousedown: (e) => {
            e.preventDefault();
            choose(i);
          },
        },
        el("span", { class: "canned-code", text: "/" + c.short_code }, el("small", { text: _(SCOPES[c.scope]) })),
        el("span", { class: "canned-text", text: c.content })
      )
    )
  );
  list.hidden = false;
  box.setAttribute("aria-activedescendant", `canned-opt-${P.active}`);
  list.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: "nearest" });
}

function close() {
  P.open = false;
  P.seq++;
  list.hidden = true;
  box.removeAttribute("aria-activedescendant");
}

async function update() {
  const token = slashToken();
  if (!token) return close();
  P.open = true; // Enter must not send "/co" while the list loads
  const seq = ++P.seq;
  let all;
  try {
    all = await catalogue();
  } catch (ex) {
    close();
    return onError(ex);
  }
  if (seq !== P.seq) return;
  const starts = all.filter((c) => c.short_code.toLowerCase().startsWith(token.q));
  const contains = all.filter((c) => !starts.includes(c) && c.content.toLowerCase().includes(token.q));
  P.items = [...starts, ...contains].slice(0, 20);
  if (!P.items.length) return close();
  P.active = Math.min(P.active, P.items.length - 1);
  render();
}

async function choose(i) {
  const item = P.items[i];
  const token = slashToken();
  const id = conversationId();
  if (!item || !token || !id) return close();
  close();
  let text;
  try {
    text = (await api.renderCanned(item.id, id)).text;
  } catch (ex) {
    return onError(ex);
  }
  const end = box.selectionStart;
  box.value = box.value.slice(0, token.start) + text + box.value.slice(end);
  const caret = token.start + text.length;
  box.setSelectionRange(caret, caret);
  box.focus();
}

function onKey(e) {
  if (!P.open || e.target !== box || e.isComposing) return;
  const moves = { ArrowDown: 1, ArrowUp: -1 };
  if (e.key in moves && P.items.length) {
    P.active = (P.active + moves[e.key] + P.items.length) % P.items.length;
    render();
  } else if (e.key === "Enter" || e.key === "Tab") {
    if (!list.hidden) choose(P.active);
  } else if (e.key === "Escape") {
    close();
  } else return;
  // Captured on the form, so the reply box's Enter-sends and the page's shortcuts never see it.
  e.preventDefault();
  e.stopPropagation();
}

/** `getConversationId()` names the open conversation; `error(ex)` shows a failure. */
export function setupCanned(getConversationId, error) {
  conversationId = getConversationId;
  onError = error;
  box = document.getElementById("composer-text");
  list = el("ul", {
    id: "canned-picker",
    class: "canned-picker",
    role: "listbox",
    "aria-label": _("Canned responses"),
  });
  list.hidden = true;
  box.closest(".composer-row").before(list);
  // A textarea may not take the combobox role: a textbox with a suggestion list.
  box.setAttribute("aria-autocomplete", "list");
  box.setAttribute("aria-controls", "canned-picker");
  box.addEventListener("input", () => {
    P.active = 0;
    update();
  });
  box.addEventListener("blur", close);
  box.closest("form").addEventListener("keydown", onKey, true);
}
