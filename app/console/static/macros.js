// Macros in the conversation view: a select of the operator's own and the shared macros
// and a Run button; the actions' system notes arrive over the live feed like any message.
import { request } from "./api.js";

export function setupMacros(selected, onError, onDone) {
  const select = document.getElementById("macro-select");
  const button = document.getElementById("macro-run");
  async function load() {
    if (!selected()) return;
    try {
      const macros = await request("GET", "/api/v1/macros");
      const chosen = select.value;
      const first = document.createElement("option");
      first.value = "";
      first.textContent = _("Macros…");
      select.replaceChildren(first, ...macros.map((m) => {
        const o = document.createElement("option");
        o.value = m.id;
        o.textContent = m.name;
        return o;
      }));
      select.value = chosen;
      if (select.selectedIndex < 0) select.value = "";
    } catch (ex) {
      onError(ex);
    }
  }
  button.addEventListener("click", async () => {
    const conversation = selected();
    if (!conversation || !select.value) return;
    try {
      const r = await request("POST", `/api/v1/conversations/${conversation}/macros/${select.value}/run`);
      onDone(ngettext("{n} action done.", "{n} actions done.", r.actions_run));
    } catch (ex) {
      onError(ex);
    }
  });
  // Read when the operator reaches for it (signed in by then), so edits elsewhere show.
  select.addEventListener("focus", load);
}
