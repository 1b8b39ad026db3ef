// Labels in the console: chips on list items and in the conversation's header (each with a
// dot in the label's colour: the chip's text keeps the theme's contrast whatever the
// colour), adding and removing them there, and the list's label filter. app.js calls these;
// they use only the public API.

import { api } from "./api.js";
import { el } from "./dom.js";

const STORE = "chatcentre.label";
const L = { catalogue: [], filter: sessionStorage.getItem(STORE) || "" };

const same = (a, b) => a.toLowerCase() === b.toLowerCase();

function colourOf(name) {
  return L.catalogue.find((l) => same(l.name, name))?.colour || "#6b7280";
}

function chip(name, extra) {
  const dot = el("span", { class: "label-dot", "aria-hidden": "true" });
  dot.style.background = colourOf(name);
  return el("span", { class: "label-chip", "data-label": name }, dot, el("span", { class: "label-name", text: name }), extra);
}

/** The chips of a conversation's labels (nothing when it has none). */
export function labelChips(names) {
  if (!names?.length) return null;
  return el("span", { class: "label-chips" }, ...names.map((n) => chip(n)));
}

/** Reads the catalogue (after login) and fills the filter. */
export async function loadLabels() {
  L.catalogue = await api.labels().catch(() => []);
  if (L.filter && !L.catalogue.some((l) => same(l.name, L.filter))) L.filter = "";
  renderFilter();
}

/** The label the list is filtered by ("" for none). */
export const labelFilter = () => L.filter;

/** Whether a conversation passes the label filter (live updates are filtered here too). */
export function passesLabelFilter(c) {
  return !L.filter || (c.labels || []).some((n) => same(n, L.filter));
}

function renderFilter() {
  const select = document.getElementById("label-filter");
  if (!select) return;
  select.replaceChildren(
    el("option", { value: "", text: _("All labels") }),
    ...L.catalogue.map((l) => el("option", { value: l.name, text: l.name }))
  );
  select.value = L.filter;
  select.closest(".label-filter").hidden = L.catalogue.length === 0;
}

/** Wires the filter; `onChange` reloads the list. */
export function setupLabelFilter(onChange) {
  document.getElementById("label-filter")?.addEventListener("change", (e) => {
    L.filter = e.target.value;
    sessionStorage.setItem(STORE, L.filter);
    onChange();
  });
}

/** The open conversation's labels, removable, and a picker to add one. `onSaved` gets the
 * conversation as changed; `onError` the failure. */
export function renderLabelEditor(container, c, { onSaved, onError }) {
  const names = c.labels || [];
  const save = async (next) => {
    try {
      const got = await api.setConversationLabels(c.id, next);
      onSaved({ ...c, labels: got.labels });
    } catch (ex) {
      onError(ex);
    }
  };
  const chips = names.map((n) =>
    chip(
      n,
      el("button", {
        type: "button",
        class: "label-remove",
        "aria-label": _("Remove the label {name}", { name: n }),
        text: "×",
        onclick: () => save(names.filter((x) => x !== n)),
      })
    )
  );
  const free = L.catalogue.filter((l) => !names.some((n) => same(n, l.name)));
  const add = free.length
    ? el(
        "select",
        {
          class: "label-add",
          "aria-label": _("Add a label"),
          onchange: (e) => e.target.value && save([...names, e.target.value]),
        },
        el("option", { value: "", text: _("+ Label") }),
        ...free.map((l) => el("option", { value: l.name, text: l.name }))
      )
    : null;
  container.replaceChildren(...chips, add);
}
