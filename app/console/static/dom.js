// Building the console's elements in script: texts always go in as textContent, never parsed
// as HTML (what a client or a CRM wrote cannot become markup).

/** el("div", {class: "x", text: "…", onclick: f, hidden: true}, child, …): attributes
 * (false, null and undefined left out, true as an empty attribute), "text" as the element's
 * text, "on…" as listeners, then the children that are not empty. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter(Boolean));
  return node;
}

/** textEl("td", "…", "muted"): an element with a text and an optional class. */
export function textEl(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** A plain button (type button, class btn) that calls onClick. */
export function button(text, onClick) {
  const b = textEl("button", text, "btn");
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}
